/**
 * Request recognisers: the first whose test passes decides a request's kind and writes its
 * answer. New kinds (Auto Evol-Instruct optimizer prompts, say) are added as further entries.
 */
import { EQUALITY_LEAD } from '../core/elimination';
import { ChatMessage } from '../core/messages';
import { CUSTOM_OPERATION_SYSTEM } from '../core/methods';
import { INSTRUCTION_CLOSE, INSTRUCTION_OPEN, RESPONDER_SYSTEM } from '../core/operations';
import { AUTO_EVOL_RECOGNISERS } from './auto-evol';
import { answerEquality } from './judge';
import { answerMutation, mutationOperation } from './mutate';
import { answerRequest } from './respond';
import { SimRecogniser, SimRequestKind } from './types';

/** The content of the last user message, or of the last message of any role when there is none. */
export function lastUserContent(messages: readonly ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return messages[i].content;
  }
  return messages.length > 0 ? messages[messages.length - 1].content : '';
}

function systemContent(messages: readonly ChatMessage[]): string | undefined {
  return messages.find((m) => m.role === 'system')?.content;
}

export const JUDGE_RECOGNISER: SimRecogniser = {
  kind: 'judge',
  test: (messages) => lastUserContent(messages).includes(EQUALITY_LEAD),
  answer: (messages) => answerEquality(lastUserContent(messages)),
};

export const MUTATE_RECOGNISER: SimRecogniser = {
  kind: 'mutate',
  test: (messages) => mutationOperation(lastUserContent(messages)) !== undefined,
  operation: (messages) => mutationOperation(lastUserContent(messages)),
  answer: (messages) => answerMutation(lastUserContent(messages)),
};

export const RESPOND_RECOGNISER: SimRecogniser = {
  kind: 'respond',
  test: (messages) => systemContent(messages) === RESPONDER_SYSTEM,
  answer: (messages) => answerRequest(lastUserContent(messages)),
};

function hasInstructionTags(content: string): boolean {
  const open = content.indexOf(INSTRUCTION_OPEN);
  return open >= 0 && content.indexOf(INSTRUCTION_CLOSE, open) > open;
}

/**
 * A custom operation with none of our leads: recognised by our tags around the instruction or by
 * our default system message for custom operations. It comes after the responder, whose
 * instruction may itself quote the tags; the operation stays unknown.
 */
export const CUSTOM_MUTATE_RECOGNISER: SimRecogniser = {
  kind: 'mutate',
  test: (messages) =>
    hasInstructionTags(lastUserContent(messages)) || systemContent(messages) === CUSTOM_OPERATION_SYSTEM,
  answer: (messages) => answerMutation(lastUserContent(messages)),
};

/** Anything else is answered like a responder request. */
export const FALLBACK_RECOGNISER: SimRecogniser = {
  kind: 'other',
  test: () => true,
  answer: (messages) => answerRequest(lastUserContent(messages)),
};

export const DEFAULT_RECOGNISERS: readonly SimRecogniser[] = [
  JUDGE_RECOGNISER,
  MUTATE_RECOGNISER,
  ...AUTO_EVOL_RECOGNISERS,
  RESPOND_RECOGNISER,
  CUSTOM_MUTATE_RECOGNISER,
  FALLBACK_RECOGNISER,
];

export function findRecogniser(
  messages: ChatMessage[],
  recognisers: readonly SimRecogniser[] = DEFAULT_RECOGNISERS,
): SimRecogniser {
  return recognisers.find((r) => r.test(messages)) ?? FALLBACK_RECOGNISER;
}

export function classifyRequest(
  messages: ChatMessage[],
  recognisers: readonly SimRecogniser[] = DEFAULT_RECOGNISERS,
): { kind: SimRequestKind; operation?: string } {
  const recogniser = findRecogniser(messages, recognisers);
  const operation = recogniser.operation?.(messages);
  return operation === undefined ? { kind: recogniser.kind } : { kind: recogniser.kind, operation };
}
