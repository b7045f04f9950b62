/** Batch API mode in tests: quick batch settings, every role batched, and what must match an online run. */
import type { BatchSettings } from '../../core/batch';
import type { Lineage } from '../../core/lineage';
import type { LlmConfig } from '../../core/endpoints';
import { llmAt } from './temporal';

/** Short waits: the simulated batches finish in a fraction of a second. */
export const FAST_BATCHES: BatchSettings = {
  maxRequests: 40,
  maxWaitMs: 150,
  pollInitialMs: 150,
  pollMaxMs: 400,
  idleExitMs: 60_000,
};

export function batchLlm(url: string): LlmConfig {
  const llm = llmAt(url);
  return {
    evolver: { ...llm.evolver, batch: true },
    responder: { ...llm.responder, batch: true },
    judge: { ...llm.judge, batch: true },
  };
}

/** What must be the same online and in batches: every round's texts and verdicts, tokens, the seed's answer. */
export function comparable(record: Lineage) {
  return {
    instructionId: record.instructionId,
    status: record.status,
    final: record.final,
    seedResponse: record.seedResponse,
    usage: record.usage,
    steps: record.steps.map((s) => ({
      round: s.round,
      operation: s.operation,
      parent: s.parent,
      instruction: s.instruction,
      response: s.response,
      verdict: s.verdict,
      usage: s.usage,
      reasks: s.reasks,
    })),
  };
}
