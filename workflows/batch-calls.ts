/**
 * The instruction workflow's side of Batch API mode: a round's call made as a batch row instead of one request, with
 * the same signature and result as the online activity (so `RoundCalls.ask`, its re-asks and its tallies stay as
 * they are). The row is stored and queued with the run's batcher (prepareBatchCall), the workflow waits, durably, for
 * the batcher's word that the answer is in, and finishBatchCall judges the answer as the online activity would.
 */
import { condition, proxyActivities, workflowInfo, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BatchCall, BatchCallResult } from '../activities/batch';

/** The LLM calls of a round, online (the activities themselves) or as batch rows (batchCalls). */
export type RoundLlmCalls = Pick<Activities, 'mutate' | 'respond' | 'judgeEquality'>;

/** Run-store writes and a signal: quick, retried without a limit. */
const QUICK_RETRY: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' };

/**
 * How long a call waits for the batcher's word before it queues the call again. A batch may take 24 hours; this only
 * matters if the batcher was lost (terminated by hand, say): queued again, the call is found answered in the run
 * store, or taken into a new batch.
 */
const RECHECK_AFTER = '1 hour';

/** The batcher's words for this instruction's calls, by custom_id (set by the workflow's batchResult handler). */
export class BatchOutcomes {
  private readonly outcomes = new Map<string, { outcome: 'done' | 'online'; reason?: string }>();

  hear(word: { customId: string; outcome: 'done' | 'online'; reason?: string }): void {
    this.outcomes.set(word.customId, word);
  }

  has(customId: string): boolean {
    return this.outcomes.has(customId);
  }

  take(customId: string): { outcome: 'done' | 'online'; reason?: string } | undefined {
    const word = this.outcomes.get(customId);
    this.outcomes.delete(customId);
    return word;
  }
}

export interface BatchCallContext {
  runId: string;
  instructionId: string;
  outcomes: BatchOutcomes;
}

/**
 * The round's calls as batch rows. `callKey` names the call in its instruction (`r2.respond.1`); `online` is used
 * for a call the batcher gives back (its row kept failing, or the batch could not be sent).
 */
export function batchCalls(
  context: BatchCallContext,
  callKey: string,
  online: RoundLlmCalls,
  summary: string,
): RoundLlmCalls {
  const store = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: QUICK_RETRY, summary });
  async function viaBatch(call: BatchCall): Promise<BatchCallResult | OnlineResult> {
    for (;;) {
      const { customId, ready } = await store.prepareBatchCall({
        runId: context.runId,
        instructionId: context.instructionId,
        workflowId: workflowInfo().workflowId,
        callKey,
        call,
      });
      if (!ready) {
        if (!(await condition(() => context.outcomes.has(customId), RECHECK_AFTER))) continue;
        if (context.outcomes.take(customId)?.outcome === 'online') return onlineCall(online, call);
      }
      return await store.finishBatchCall({ runId: context.runId, customId, call });
    }
  }
  return {
    mutate: async (input) =>
      (await viaBatch({ kind: 'mutate', input })) as Awaited<ReturnType<RoundLlmCalls['mutate']>>,
    respond: async (input) =>
      (await viaBatch({ kind: 'respond', input })) as Awaited<ReturnType<RoundLlmCalls['respond']>>,
    judgeEquality: async (input) =>
      (await viaBatch({ kind: 'judgeEquality', input })) as Awaited<ReturnType<RoundLlmCalls['judgeEquality']>>,
  };
}

type OnlineResult = Awaited<ReturnType<RoundLlmCalls[keyof RoundLlmCalls]>>;

function onlineCall(online: RoundLlmCalls, call: BatchCall): Promise<OnlineResult> {
  if (call.kind === 'mutate') return online.mutate(call.input);
  if (call.kind === 'respond') return online.respond(call.input);
  return online.judgeEquality(call.input);
}
