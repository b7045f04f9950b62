/** Simulated difficulty ratings: longer tasks with more demands score higher, as an LLM judge tends to rate them. */
import { between } from './text';

/** `{"difficulty": d, "complexity": c}` for the task in a score request, from its length and its demands. */
export function answerScore(userContent: string): string {
  const task = between(userContent, '<task>', '</task>') ?? userContent;
  const words = task.split(/\s+/).filter(Boolean).length;
  const demands = (task.match(/,|;|\band\b|\bthen\b|\beach\b|\bat least\b|\bexplain\b|\bjustify\b|\d+/gi) ?? []).length;
  const clamp = (n: number) => Math.max(1, Math.min(10, Math.round(n)));
  return JSON.stringify({ difficulty: clamp(2 + words / 14), complexity: clamp(1 + demands / 2) });
}
