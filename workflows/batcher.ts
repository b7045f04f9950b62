/**
 * A run's batcher (Batch API mode, `evol run --batch`): one workflow per run, `evol:batch:<run>`, started by the first
 * call queued with it (signal-with-start from the prepareBatchCall activity). It gathers the calls of the run's
 * instruction workflows into batches and takes each batch through its life: submitted (by a key the workflow makes,
 * which the batch carries in its metadata, so a retried submission finds it instead of making another), waited for
 * with durable timers that back off (no worker slot is held while a batch runs, and the wait survives restarts),
 * collected (answers to the run store, the waiting instructions told by the collecting activity). Rows that failed go
 * back to the queue, or online; rows of an expired or cancelled batch go back to the queue.
 *
 * Pause (from the dataset workflow) cancels its open batches at the provider and holds the queue; rows done before
 * the cancel are kept. Cancel does the same and ends. Its history holds ids and counts, never requests or answers.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
  setWorkflowOptions,
  sleep,
  type RetryPolicy,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import {
  isTerminal,
  nextDueInMs,
  pollDelayMs,
  readyGroups,
  resolveBatchSettings,
  takeBatch,
  type BatcherInput,
  type BatcherState,
  type BatcherStatus,
  type OpenBatch,
  type QueuedCall,
  type ResolvedBatchSettings,
} from '../core/batch';
import { batchesQuery, batchResultSignal, enqueueBatchCallSignal } from '../core/batch-messages';
import { LlmFailure, NON_RETRYABLE_LLM_FAILURES } from '../core/llm-failures';
import { pauseSignal, resumeSignal } from '../core/messages';
import { costOf } from '../core/pricing';
import type { Activities } from '../activities';

/**
 * Provider calls are retried with backoff for as long as the provider is down (a batch it holds is not given up
 * on), except a submission: after about an hour of failures its rows are asked online. Configuration errors (a
 * wrong key, say) fail at once.
 */
const PROVIDER_RETRY: RetryPolicy = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '5m',
  nonRetryableErrorTypes: NON_RETRYABLE_LLM_FAILURES,
};

/**
 * Upload (submit) and download (collect) of files up to 200 MB take long: they heartbeat, so a worker that dies during
 * one is noticed in seconds. Polling and cancelling are one short request each.
 */
const submitting = proxyActivities<Activities>({
  startToCloseTimeout: '35 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { ...PROVIDER_RETRY, maximumAttempts: 20 },
});
const files = proxyActivities<Activities>({
  startToCloseTimeout: '35 minutes',
  heartbeatTimeout: '10 seconds',
  retry: PROVIDER_RETRY,
});
const calls = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: PROVIDER_RETRY });

export async function batchEvolution(input: BatcherInput): Promise<void> {
  const batcher = new Batcher(input);
  setHandler(enqueueBatchCallSignal, (call) => batcher.enqueue(call));
  setHandler(pauseSignal, () => batcher.pause());
  setHandler(resumeSignal, () => batcher.resume());
  setHandler(batchesQuery, () => batcher.status());
  try {
    batcher.trackCarriedBatches();
    for (;;) {
      // Woken by a step to take, by a change (a call queued, a batch closed: the wake time moves), or by the time.
      const seen = batcher.changes;
      const wakeMs = batcher.nextWakeMs();
      const woken = () => batcher.hasStep() || batcher.changes !== seen;
      if (wakeMs === undefined) await condition(woken);
      else await condition(woken, wakeMs);
      if (batcher.failure) throw batcher.failure;
      if (workflowInfo().continueAsNewSuggested && batcher.quiet) {
        await condition(allHandlersFinished);
        return await continueAsNew<typeof batchEvolution>(batcher.carried());
      }
      if (batcher.idleLongEnough) {
        await condition(allHandlersFinished);
        if (batcher.idleLongEnough) return;
      }
      batcher.cutReadyBatches();
    }
  } catch (err) {
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => batcher.cancelOpenBatches());
    throw err;
  }
}

class Batcher {
  private readonly runId: string;
  private readonly settings: ResolvedBatchSettings;
  private readonly state: BatcherState;
  private lastBusyMs = Date.now();
  /** Counts what moves the next wake time: calls queued, batches closed, pause and resume. */
  changes = 0;
  /** An error a batch's life ended in that was not an activity's (a bug): thrown, it fails the workflow task. */
  failure?: Error;

  constructor(private readonly input: BatcherInput) {
    this.runId = input.runId;
    this.settings = resolveBatchSettings(input.settings);
    this.state = input.state ?? { queue: [], open: [], paused: false, submitted: 0, continuedAsNew: 0 };
  }

  /** A call for the next batch; one already queued or in an open batch (a retried activity) is not taken twice. */
  enqueue(call: Omit<QueuedCall, 'failures' | 'queuedAtMs'>): void {
    const { queue, open } = this.state;
    if (queue.some((c) => c.customId === call.customId)) return;
    if (open.some((b) => b.calls.some((c) => c.customId === call.customId))) return;
    queue.push({ ...call, failures: 0, queuedAtMs: Date.now() });
    this.lastBusyMs = Date.now();
    this.changes++;
  }

  pause(): void {
    this.state.paused = true;
    this.changes++;
  }

  resume(): void {
    this.state.paused = false;
    // The rows held while paused are sent now, whatever their wait.
    for (const call of this.state.queue) {
      call.queuedAtMs = Math.min(call.queuedAtMs, Date.now() - this.settings.maxWaitMs);
    }
    this.changes++;
  }

  status(): BatcherStatus {
    return {
      queued: this.state.queue.length,
      paused: this.state.paused,
      submitted: this.state.submitted,
      open: this.state.open.map((b) => ({
        key: b.key,
        ...(b.batchId ? { batchId: b.batchId } : {}),
        roles: [...new Set(b.calls.map((c) => c.role))],
        status: b.status ?? b.phase,
        requests: b.calls.length,
        ...(b.counts ? { counts: b.counts } : {}),
        ageMs: Date.now() - b.cutAtMs,
      })),
    };
  }

  /** Something to do now: a batch to cut, continue-as-new, or the end (idle). */
  hasStep(): boolean {
    return (
      this.failure !== undefined ||
      (!this.state.paused && readyGroups(this.state.queue, this.settings, Date.now()).length > 0) ||
      (workflowInfo().continueAsNewSuggested && this.quiet) ||
      this.idleLongEnough
    );
  }

  /** When to look again without a signal: the next group's wait is over, or the idle time. */
  nextWakeMs(): number | undefined {
    const due = this.state.paused ? undefined : nextDueInMs(this.state.queue, this.settings, Date.now());
    const idle = this.idle ? Math.max(0, this.lastBusyMs + this.settings.idleExitMs - Date.now()) : undefined;
    const times = [due, idle].filter((t): t is number => t !== undefined);
    return times.length ? Math.max(1, Math.min(...times)) : undefined;
  }

  private get idle(): boolean {
    return this.state.queue.length === 0 && this.state.open.length === 0;
  }

  get idleLongEnough(): boolean {
    return this.idle && Date.now() - this.lastBusyMs >= this.settings.idleExitMs;
  }

  /** Every open batch is waiting on a timer (no activity running): safe to continue as new. */
  get quiet(): boolean {
    return this.state.open.every((b) => b.phase === 'waiting');
  }

  carried(): BatcherInput {
    return {
      ...this.input,
      state: { ...this.state, continuedAsNew: this.state.continuedAsNew + 1 },
    };
  }

  /** Batches carried across continue-as-new go on where they were. */
  trackCarriedBatches(): void {
    for (const batch of this.state.open) this.startTracking(batch);
  }

  /** Cuts every batch that is due (full, or its oldest call waited long enough) and starts its life. */
  cutReadyBatches(): void {
    if (this.state.paused) return;
    for (const group of readyGroups(this.state.queue, this.settings, Date.now())) {
      const first = this.state.queue.find((c) => c.group === group)!;
      const { calls: taken, bytes } = takeBatch(this.state.queue, group, this.settings);
      const batch: OpenBatch = {
        key: uuid4(),
        group,
        role: first.role,
        calls: taken,
        bytes,
        cutAtMs: Date.now(),
        polls: 0,
        phase: 'submitting',
      };
      if (!this.admit(batch)) {
        // Refused: the calls wait, and so does the batcher, until a resume (with a new budget) says go on.
        this.state.queue.unshift(...taken);
        this.pause();
        return;
      }
      this.state.open.push(batch);
      this.startTracking(batch);
    }
  }

  /**
   * Whether to send this batch, by what it may cost at most (every row's prompt estimate and max_tokens, at batch
   * prices). The run's spend ledger is to decide here: refuse when the estimate would cross the budget (the batcher
   * then holds its queue until resumed; the dataset workflow should be told, to pause the run and say why). Until it
   * is connected, every batch is sent; the run's own budget check still pauses it as answers are counted.
   */
  private admit(batch: OpenBatch): boolean {
    const estimateUsd = this.estimateUsd(batch);
    return estimateUsd >= 0;
  }

  /** The most this batch can cost: every token it may use priced as output (the dearer side), at batch prices. */
  estimateUsd(batch: OpenBatch): number {
    const model = batch.calls[0]?.model;
    const tokens = batch.calls.reduce((n, c) => n + c.maxTokens, 0);
    const price = model ? this.input.prices?.[model] : undefined;
    return costOf({ promptTokens: 0, completionTokens: tokens, totalTokens: tokens }, price, 'batch');
  }

  private startTracking(batch: OpenBatch): void {
    this.track(batch)
      .catch(async (err: unknown) => {
        if (isCancellation(err)) return; // the run is being cancelled: cancelOpenBatches takes over
        if (err instanceof ActivityFailure) {
          // The provider refused to go on with it (a key revoked mid-run, say): its rows are asked online, where the
          // same error pauses the run with a message that says what to fix.
          this.close(batch);
          await this.askOnline(batch.calls, `the batch ${batch.batchId ?? batch.key} failed: ${messageOf(err)}`);
          return;
        }
        this.failure = err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => {
        this.lastBusyMs = Date.now();
        this.changes++;
      });
  }

  /** One batch's life: submitted, waited for (cancelled on pause), collected, its rows settled. */
  private async track(batch: OpenBatch): Promise<void> {
    if (!batch.batchId) {
      batch.phase = 'submitting';
      try {
        const submitted = await submitting.submitBatch({
          runId: this.runId,
          role: batch.role,
          key: batch.key,
          customIds: batch.calls.map((c) => c.customId),
          notBeforeMs: batch.cutAtMs,
        });
        batch.batchId = submitted.batchId;
        batch.status = submitted.status;
        this.state.submitted++;
      } catch (err) {
        if (isCancellation(err)) throw err;
        this.close(batch);
        if (isBudgetRefusal(err)) {
          // It would cross the run's budget: not sent. The run pauses (the activity told it why); the rows wait in
          // the queue, and go when a resume that raises the budget resumes this batcher too.
          this.state.queue.unshift(...batch.calls);
          this.pause();
          return;
        }
        // It could not be sent (a configuration error, or the provider down for long): ask its rows online, where
        // the same error stops the run with a message that says what to fix.
        await this.askOnline(batch.calls, `the batch could not be sent: ${messageOf(err)}`);
        return;
      }
    }
    const batchId = batch.batchId;
    const ids = { runId: this.runId, role: batch.role, batchId };
    while (!isTerminal(batch.status)) {
      batch.phase = 'waiting';
      const pausedNow = await condition(
        () => this.state.paused && !batch.cancelSent,
        pollDelayMs(batch.polls, this.settings),
      );
      if (pausedNow) {
        batch.phase = 'cancelling';
        batch.status = (await calls.cancelBatch(ids)).status;
        batch.cancelSent = true;
        batch.polls = 0;
        continue;
      }
      batch.phase = 'polling';
      const polled = await calls.pollBatch(ids);
      batch.polls++;
      batch.status = polled.status;
      if (polled.counts) batch.counts = polled.counts;
    }
    batch.phase = 'collecting';
    const collected = await files.collectBatch({ ...ids, customIds: batch.calls.map((c) => c.customId) });
    this.close(batch);
    await this.settle(batch, collected);
  }

  private close(batch: OpenBatch): void {
    this.state.open = this.state.open.filter((b) => b !== batch);
  }

  /**
   * After collection: rows never done (expired or cancelled batch) go back to the queue as they were; rows that
   * failed go back counted, or online (by the failedRows setting, or after maxRowAttempts batches).
   */
  private async settle(
    batch: OpenBatch,
    collected: { failed: string[]; unfinished: string[]; reasons: string[] },
  ): Promise<void> {
    const failed = new Set(collected.failed);
    const unfinished = new Set(collected.unfinished);
    const again: QueuedCall[] = [];
    const online: QueuedCall[] = [];
    for (const call of batch.calls) {
      if (unfinished.has(call.customId)) again.push(call);
      else if (failed.has(call.customId)) {
        const failures = call.failures + 1;
        if (this.settings.failedRows === 'online' || failures >= this.settings.maxRowAttempts) online.push(call);
        else again.push({ ...call, failures });
      }
    }
    this.state.queue.unshift(...again);
    if (online.length) await this.askOnline(online, `the row failed in its batch: ${collected.reasons.join('; ')}`);
  }

  /** Tells each call's instruction workflow to ask it online instead. */
  private async askOnline(calls: QueuedCall[], reason: string): Promise<void> {
    await Promise.all(
      calls.map(async (call) => {
        try {
          await getExternalWorkflowHandle(call.workflowId).signal(batchResultSignal, {
            customId: call.customId,
            outcome: 'online',
            reason: reason.slice(0, 300),
          });
        } catch {
          // The instruction ended; nobody waits for this call.
        }
      }),
    );
  }

  /**
   * The run is cancelled: every open batch is cancelled at the provider; once it has stopped, what it finished is
   * collected into the run store (kept for a later attempt of the run), and nothing is queued again.
   */
  async cancelOpenBatches(): Promise<void> {
    await Promise.all(
      this.state.open.map(async (batch) => {
        if (!batch.batchId) return;
        const ids = { runId: this.runId, role: batch.role, batchId: batch.batchId };
        try {
          let status = (await calls.cancelBatch(ids)).status;
          for (let polls = 0; !isTerminal(status); polls++) {
            await sleep(pollDelayMs(polls, this.settings));
            status = (await calls.pollBatch(ids)).status;
          }
          await files.collectBatch({ ...ids, customIds: batch.calls.map((c) => c.customId) });
        } catch {
          // The provider ends it on its own (expiry); nothing more to keep.
        }
      }),
    );
  }
}

function messageOf(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
}

/** The submit activity refused the batch because it would cross the run's budget. */
function isBudgetRefusal(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === LlmFailure.BudgetReached
  );
}

// A run's batcher lives as long as its run:
// it moves to the current build at its next workflow task, so a change to this file ships behind patched()
// (docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, batchEvolution);
