/**
 * Asking again after an unusable answer: the model sees its own answer and is told, in one line, what was wrong
 * with it and what to send instead. At temperature 0 the same question would get the same answer; this one can
 * get a different one. Every sentence is our own wording. Pure: no I/O.
 */
import type { ChatMessage } from './chat';
import { TASK_FIELDS } from './elimination';

/** An answer that could not be used: why, and its start (for the evidence and for the re-ask). */
export interface UnusableAnswer {
  reason: string;
  answer: string;
}

/** The answer of the previous ask and why it could not be used. */
export type Reask = UnusableAnswer;

/** Enough of a bad answer to show the model and to keep as evidence, and no more. */
export const REASK_ANSWER_CHARS = 2000;

export function clipAnswer(text: string, max = REASK_ANSWER_CHARS): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What each role is told to send the second time. */
export const REASK_REQUEST = {
  evolver: 'Send the rewritten task once more, alone: no label, no comment, and no answer to the task.',
  judge: `Send your verdict once more, with nothing else: EQUAL or NOT EQUAL, or a JSON object with "verdict" (EQUAL or NOT EQUAL), "${TASK_FIELDS.kind}" (TASK, ANSWER or STATEMENT) and "${TASK_FIELDS.keeps}" (YES or NO).`,
  responder: 'Answer the request once more, in full.',
  'optimizer-feedback': 'Send your review of the cases once more: one line per failed case with its id and the reason.',
  scorer: 'Send the two ratings once more as {"difficulty": <1-10>, "complexity": <1-10>}, with nothing else.',
  optimizer:
    'Send the complete improved method once more inside a single fenced code block (```), keeping the {instruction} placeholder, with nothing after the block.',
} as const;

export type ReaskRole = keyof typeof REASK_REQUEST;

/** The first request's messages, then the unusable answer and what to do instead. */
export function reaskMessages(messages: readonly ChatMessage[], role: ReaskRole, reask?: Reask): ChatMessage[] {
  if (!reask) return [...messages];
  // An empty answer gives the model nothing to correct: ask the same question again.
  if (!reask.answer.trim()) return [...messages];
  return [
    ...messages,
    { role: 'assistant', content: reask.answer },
    { role: 'user', content: `That reply could not be used: ${reask.reason}. ${REASK_REQUEST[role]}` },
  ];
}
