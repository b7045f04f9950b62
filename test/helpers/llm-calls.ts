/**
 * What a crash may cost in LLM calls, counted at the simulated LLM: a call answered with 200 and asked again. Shared
 * by the fault suites (test/faults.test.ts, test/s3-fleet.test.ts).
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Lineage } from '../../core/lineage';
import type { SimRequestRecord } from '../../sim/types';

/** A crash a test caused, and the LLM activities the server had running right after it. */
export interface Crash {
  at: number;
  llmCallsInFlight: number;
}

/** The activities that make one LLM call each, in an instruction workflow. */
const LLM_ACTIVITIES = new Set(['mutate', 'respond', 'judgeEquality']);

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

export interface CallsBeyondBaseline {
  /** Answers with 200 beyond what the baseline run needed of the same request. */
  extra: number;
  /** Of those, the ones charged to each crash (see {@link callsBeyondBaseline}). */
  sinceCrash: number[];
  /** Extra answers with no crash between them and an earlier answer to the same request. */
  notAfterACrash: number;
  /** Requests the baseline needed more often than the run made them (a crash never saves a call). */
  missing: number;
}

/**
 * The calls a run made beyond those of a crash-free baseline run that asks the same (same seeds, same plan seed, the
 * deterministic simulated LLM): its rounds repeated on purpose are the baseline's too, so what is left was asked again
 * because of a crash. Each request's answers are walked in time order; an extra one is charged to the first crash
 * between an answer and the next, earliest gaps first (as {@link repeatedCalls} charges a repeat to the first crash
 * after the answer it repeats). An extra answer with no crash in any gap is `notAfterACrash`.
 */
export function callsBeyondBaseline(
  requests: readonly SimRequestRecord[],
  baseline: readonly SimRequestRecord[],
  crashes: readonly Crash[],
): CallsBeyondBaseline {
  const answersOf = (records: readonly SimRequestRecord[]) => {
    const byKey = new Map<string, number[]>();
    for (const r of records) if (r.outcome === 'ok') byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.receivedAt]);
    return byKey;
  };
  const needed = answersOf(baseline);
  const made = answersOf(requests);
  const sinceCrash = crashes.map(() => 0);
  let extra = 0;
  let notAfterACrash = 0;
  let missing = 0;
  for (const [key, times] of needed) missing += Math.max(0, times.length - (made.get(key)?.length ?? 0));
  for (const [key, times] of made) {
    let left = times.length - (needed.get(key)?.length ?? 0);
    if (left <= 0) continue;
    extra += left;
    for (let i = 1; i < times.length && left > 0; i++) {
      const k = crashes.findIndex((c) => times[i - 1] <= c.at && c.at <= times[i]);
      if (k < 0) continue;
      sinceCrash[k]++;
      left--;
    }
    // An extra first answer (a request the baseline never made) has no earlier answer to follow.
    notAfterACrash += left;
  }
  return { extra, sinceCrash, notAfterACrash, missing };
}

/** The worker identity of each LLM activity started and not completed now, in the given instruction workflows. */
export async function llmCallWorkers(client: Client, workflowIds: readonly string[]): Promise<string[]> {
  const started = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
  const lists = await Promise.all(
    workflowIds.map(async (workflowId) => {
      try {
        const { raw } = await client.workflow.getHandle(workflowId).describe();
        return (raw.pendingActivities ?? []).flatMap((a) =>
          a.state === started && LLM_ACTIVITIES.has(a.activityType?.name ?? '') ? [a.lastWorkerIdentity ?? ''] : [],
        );
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return []; // not started yet
        throw err;
      }
    }),
  );
  return lists.flat();
}

/**
 * LLM activities started and not completed now, in the given instruction workflows; with `workerIdentity`, only those
 * that worker started (the ones a crash of that worker can redo while other workers run on).
 */
export async function llmCallsInFlight(
  client: Client,
  workflowIds: readonly string[],
  workerIdentity?: string,
): Promise<number> {
  const workers = await llmCallWorkers(client, workflowIds);
  return workerIdentity === undefined ? workers.length : workers.filter((w) => w === workerIdentity).length;
}
