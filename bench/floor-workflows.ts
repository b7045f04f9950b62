/**
 * The floor bench's workflow (bench/floor-bench.ts): the shape of an instruction's evolution with none of
 * EvolForge in it. Each round makes one call, then two at once, as an evolved round does (the rewrite, then
 * the response and the judge's verdict); each call only waits `latencyMs` and answers `replyBytes` bytes.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface FloorActivities {
  call(prompt: string, latencyMs: number, replyBytes: number): Promise<string>;
}

const { call } = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });

export async function floorInstruction(rounds: number, latencyMs: number, payloadBytes: number): Promise<number> {
  let text = 'x'.repeat(payloadBytes);
  let calls = 0;
  for (let round = 0; round < rounds; round++) {
    text = await call(text, latencyMs, payloadBytes);
    const [answer] = await Promise.all([call(text, latencyMs, payloadBytes), call(text, latencyMs, payloadBytes)]);
    text = answer;
    calls += 3;
  }
  return calls;
}
