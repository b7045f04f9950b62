/**
 * Request recognisers: the first whose test passes decides a request's kind and writes its
 * answer. New kinds (Auto Evol-Instruct optimizer prompts, say) are added as further entries.
 */
import { EQUALITY_LEAD } from '../core/elimination';
import { ChatMessage } from '../core/chat';
import { CUSTOM_OPERATION_SYSTEM } from '../core/methods';
import { INSTRUCTION_CLOSE, INSTRUCTION_OPEN, RESPONDER_SYSTEM } from '../core/operations';
import { AUTO_EVOL_RECOGNISERS } from './auto-evol';
import { requestContent } from './request';

export { requestContent } from './request';
import { SCORE_LEAD } from '../core/scoring';
import { answerEquality } from './judge';
import { answerScore } from './score';
import { answerMutation, mutationOperation } from './mutate';
import { answerRequest } from './respond';
import { SimRecogniser, SimRequestKind } from './types';

function systemContent(messages: readonly ChatMessage[]): string | undefined {
  return messages.find((m) => m.role === 'system')?.content;
}

export const JUDGE_RECOGNISER: SimRecogniser = {
  kind: 'judge',
  test: (messages) => requestContent(messages).includes(EQUALITY_LEAD),
  answer: (messages) => answerEquality(requestContent(messages)),
};

export const SCORE_RECOGNISER: SimRecogniser = {
  kind: 'score',
  test: (messages) => requestContent(messages).startsWith(SCORE_LEAD),
  answer: (messages) => answerScore(requestContent(messages)),
};

export const MUTATE_RECOGNISER: SimRecogniser = {
  kind: 'mutate',
  test: (messages) => mutationOperation(requestContent(messages)) !== undefined,
  operation: (messages) => mutationOperation(requestContent(messages)),
  answer: (messages) => answerMutation(requestContent(messages)),
};

export const RESPOND_RECOGNISER: SimRecogniser = {
  kind: 'respond',
  test: (messages) => systemContent(messages) === RESPONDER_SYSTEM,
  answer: (messages) => answerRequest(requestContent(messages)),
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
    hasInstructionTags(requestContent(messages)) || systemContent(messages) === CUSTOM_OPERATION_SYSTEM,
  answer: (messages) => answerMutation(requestContent(messages)),
};

/** Anything else is answered like a responder request. */
export const FALLBACK_RECOGNISER: SimRecogniser = {
  kind: 'other',
  test: () => true,
  answer: (messages) => answerRequest(requestContent(messages)),
};

export const DEFAULT_RECOGNISERS: readonly SimRecogniser[] = [
  JUDGE_RECOGNISER,
  SCORE_RECOGNISER,
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
