/**
 * Unusable answers as results, not faults: an empty completion, a rewrite with no task in it, a verdict that is
 * neither. The workflow asks again at once (a bounded number of times) or fails the round; Temporal's backoff is
 * kept for transport faults (429, 5xx, timeouts, dropped connections), which a second ask could cure.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { LlmFailure } from '../core/llm-failures';
import type { ChatMessage } from '../core/chat';
import { clipAnswer, type UnusableAnswer } from '../core/reask';
import { ZERO_USAGE, type Usage } from '../core/usage';
import type { LlmEndpoint } from '../core/endpoints';
import type { CallRole, CompleteOptions, Completion, LlmGateway } from './llm';

/** What every LLM activity result carries when unusable answers are returned. */
export interface CallFacts {
  usage: Usage;
  /** Temporal's attempt number of this call: above 1 after transport faults. */
  attempt?: number;
}

export type Unusable = CallFacts & { ok: false; unusable: UnusableAnswer };

/** A call asked again: the previous ask's unusable answer, shown to the model with what to send instead. */
export interface Reasked {
  reask?: UnusableAnswer;
}

/** This call's attempt number (1 outside an activity, as in unit tests). */
export function attemptNumber(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

function isEmptyCompletion(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.type === LlmFailure.EmptyCompletion;
}

/** One call whose empty answer is an unusable answer rather than a fault. */
export async function completeOrEmpty(
  llm: LlmGateway,
  role: CallRole,
  endpoint: LlmEndpoint,
  messages: ChatMessage[],
  options?: CompleteOptions,
): Promise<Completion | Unusable> {
  try {
    return await llm.complete(role, endpoint, messages, options);
  } catch (err) {
    if (!isEmptyCompletion(err)) throw err;
    return emptyAnswer(ZERO_USAGE);
  }
}

/** An answer with no text in it: unusable, asked again like any other. */
export function emptyAnswer(usage: Usage): Unusable {
  return { ok: false, unusable: { reason: 'the answer was empty', answer: '' }, usage, attempt: attemptNumber() };
}

export function unusableResult(reason: string, completion: Completion): Unusable {
  return {
    ok: false,
    unusable: { reason, answer: clipAnswer(completion.text) },
    usage: completion.usage,
    attempt: attemptNumber(),
  };
}
