/** What a chat request asks, as the simulated LLM reads it. */
import type { ChatMessage } from '../core/chat';

/**
 * The request's own content: its first user message (a re-ask adds the unusable answer and a second user message,
 * and is answered like the first ask), or the last message of any role when there is none.
 */
export function requestContent(messages: readonly ChatMessage[]): string {
  const first = messages.find((m) => m.role === 'user');
  if (first) return first.content;
  return messages.length > 0 ? messages[messages.length - 1].content : '';
}
