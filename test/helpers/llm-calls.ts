/**
 * What a crash may cost in LLM calls, counted at the simulated LLM: a call answered with 200 and asked again. Shared
 * by the fault suites (test/faults.test.ts, test/s3-fleet.test.ts).
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Lineage } from '../../core/schemas';
import type { SimRequestRecord } from '../../sim/types';

/** A crash a test caused, and the LLM activities the server had running right after it. */
export interface Crash {
  at: number;
  llmCallsInFlight: number;
}

/** The activities that make one LLM call each, in an instruction workflow. */
const LLM_ACTIVITIES = new Set(['mutate', 'respond', 'judgeEquality', 'eliminate']);

/**
 * Calls asked again on purpose: a round that repeats an earlier eliminated round of its instruction exactly (same
 * parent, same operation) asks what that round asked, and the simulated LLM answers the same: its mutate, respond and
 * judge calls, and any re-ask after an unusable answer.
 */
export function deliberateRepeatCalls(records: Lineage[]): number {
  let calls = 0;
  for (const { steps } of records) {
    steps.forEach((step, j) => {
      const repeats = steps
        .slice(0, j)
        .find(
          (earlier) =>
            !earlier.verdict.passed && earlier.parent === step.parent && earlier.operation === step.operation,
        );
      if (repeats) calls += 3 + (repeats.reasks ?? 0);
    });
  }
  return calls;
}

export interface RepeatedCalls {
  /** Calls answered with 200 that had been answered with 200 before. */
  repeated: number;
  /** Of those, the ones after each crash (charged to the first crash after the answer they repeat). */
  sinceCrash: number[];
  /** Repeats with no crash between the two answers. */
  notAfterACrash: number;
  /** Repeats beyond what the crashes had in flight: each must be a round repeated on purpose. */
  unexplained: number;
}

/**
 * Faults are never answered with 200, so Temporal's retries after them repeat nothing, and a completed activity is
 * never run again. What is left: an LLM activity running at a crash, whose answer was lost with the worker (or with
 * the server's record of its completion), is run again, once per crash; and a round that repeats an eliminated one
 * exactly asks the same again.
 */
export function repeatedCalls(requests: readonly SimRequestRecord[], crashes: readonly Crash[]): RepeatedCalls {
  const sinceCrash = crashes.map(() => 0);
  let repeated = 0;
  let notAfterACrash = 0;
  const lastAnswered = new Map<string, number>();
  for (const r of requests) {
    if (r.outcome !== 'ok') continue;
    const before = lastAnswered.get(r.key);
    lastAnswered.set(r.key, r.receivedAt);
    if (before === undefined) continue;
    repeated++;
    const k = crashes.findIndex((c) => before <= c.at && c.at <= r.receivedAt);
    if (k >= 0) sinceCrash[k]++;
    else notAfterACrash++;
  }
  const unexplained =
    notAfterACrash + sinceCrash.reduce((n, count, k) => n + Math.max(0, count - crashes[k].llmCallsInFlight), 0);
  return { repeated, sinceCrash, notAfterACrash, unexplained };
}

/** LLM activities started and not completed now, in the given instruction workflows. */
export async function llmCallsInFlight(client: Client, workflowIds: readonly string[]): Promise<number> {
  const started = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
  const counts = await Promise.all(
    workflowIds.map(async (workflowId) => {
      try {
        const { raw } = await client.workflow.getHandle(workflowId).describe();
        return (raw.pendingActivities ?? []).filter(
          (a) => a.state === started && LLM_ACTIVITIES.has(a.activityType?.name ?? ''),
        ).length;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 0; // not started yet
        throw err;
      }
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}
