/**
 * One dataset run: evolves every seed through its own instructionEvolution workflow, at most
 * `concurrency` at once (a sliding window). It holds counts, never data: seed ids come in pages
 * from the run store, children report back by signal, and the history is kept bounded by
 * continuing as new (children are abandoned, not cancelled, so they live on across it).
 */
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  setHandler,
  setWorkflowOptions,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  emptyCounts,
  type Budget,
  type DatasetEvolutionInput,
  type DatasetRunConfig,
  type DatasetState,
  type InstructionReport,
  type RunCounts,
  type RunProgress,
  type RunStatus,
  type Spend,
  type SpendReport,
  type SpendView,
  ZERO_SPEND,
  budgetReachedBy,
  runSpend,
} from '../core/dataset';
import { plural } from '../core/plural';
import { runWorkflowIds, type RunWorkflowIds } from '../core/ids';
import { NON_RETRYABLE_LLM_FAILURES } from '../core/llm-failures';
import { EvolStatus } from '../core/search-attributes';
import type { DatasetInstructionInput } from '../core/instruction-input';
import { instructionDetails, instructionSummary } from '../core/summaries';
import { addUsage } from '../core/usage';
import { localStartActivities, storeActivities } from './activity-options';
import { instructionFinishedSignal, pauseSignal, progressQuery, resumeSignal, spendUpdate } from '../core/messages';
import { usesBatch } from '../core/batch';

/**
 * The handlers change the run's state; the loop wakes when there is something to do and does one thing, first come
 * first: pass a pause (or resume) on to the running instructions, end, continue as new, read the next page of seed
 * ids, or start as many instructions as the window has room for.
 */
export async function datasetEvolution(input: DatasetEvolutionInput): Promise<RunProgress> {
  const run = new DatasetRun(input);
  setHandler(progressQuery, () => run.progress());
  setHandler(pauseSignal, ({ reason }) => run.pause(reason ?? 'paused by request (evol pause)'));
  setHandler(resumeSignal, ({ budget }) => run.resume(budget));
  setHandler(instructionFinishedSignal, (report) => run.onInstructionFinished(report));
  setHandler(spendUpdate, (report) => run.onSpend(report));

  try {
    for (;;) {
      await condition(() => run.hasNextStep());
      if (!run.pausePropagated) await run.propagatePause();
      else if (run.finished) break;
      else if (workflowInfo().continueAsNewSuggested) return await run.continueAsNew();
      else if (run.needsPage) await run.readNextPage();
      else await run.startBatch();
    }
  } catch (err) {
    if (isCancellation(err)) await run.cancelAll();
    throw err;
  }
  return run.complete();
}
// A run lasts days and must not wait for a build nobody runs any more: it moves to the current build at its next
// workflow task, so a change to this file ships behind patched() (docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, datasetEvolution);

/**
 * A dataset run's state and its transitions: the signal handlers and the main loop above only call these. Its
 * counts and queues are a DatasetState, carried across continue-as-new; the rest is rebuilt from it.
 */
class DatasetRun {
  private readonly runId: string;
  private readonly totalSeeds: number;
  private readonly config: DatasetRunConfig;
  private readonly state: DatasetState;
  private readonly inFlight: Set<string>;
  private status: RunStatus;
  /** Children are told of a pause or resume from the main loop, not from the signal handler. */
  private childrenPaused: boolean;
  /** The run's workflow ids. */
  private readonly ids: RunWorkflowIds;
  private readonly store = storeActivities();
  private readonly localStarts = localStartActivities();

  constructor(input: DatasetEvolutionInput) {
    this.runId = input.runId;
    this.totalSeeds = input.totalSeeds;
    this.config = input.config;
    this.state = input.state ?? initialState(input);
    this.inFlight = new Set(this.state.inFlight);
    this.status = this.state.paused ? 'paused' : 'running';
    this.childrenPaused = this.state.paused;
    this.ids = runWorkflowIds(input.runId);
  }

  /** The one place an instruction workflow's id is made: starting, signalling and cancelling it all use this. */
  private workflowIdOf(instructionId: string): string {
    return this.ids.instruction(instructionId);
  }

  progress(): RunProgress {
    const { state } = this;
    return {
      runId: this.runId,
      status: this.status,
      pauseReason: state.pauseReason,
      totalSeeds: this.totalSeeds,
      started: state.counts.done - state.counts.alreadyDone + this.inFlight.size,
      inFlight: this.inFlight.size,
      counts: state.counts,
      concurrency: this.config.concurrency,
      budget: state.budget,
      spent: runSpendOf(state),
      ...(state.budgetReached ? { budgetReached: state.budgetReached } : {}),
      startedAtMs: state.startedAtMs,
      activeMs:
        Date.now() - state.startedAtMs - state.pausedMs - (state.pausedSinceMs ? Date.now() - state.pausedSinceMs : 0),
      continuedAsNew: state.continuedAsNew,
      pausePropagated: this.pausePropagated,
    };
  }

  pause(reason: string): void {
    const { state } = this;
    if (state.paused) return;
    state.paused = true;
    state.pauseReason = reason;
    state.pausedSinceMs = Date.now();
    this.status = 'paused';
    upsertSearchAttributes([{ key: EvolStatus, value: 'paused' }]);
  }

  /** Goes on, with the new budget's limits when given; pauses again at once if the budget is still spent. */
  resume(budget: Budget | undefined): void {
    const { state } = this;
    if (budget) state.budget = { ...state.budget, ...budget };
    state.resumes++;
    state.budgetReached = undefined;
    this.unpause();
    this.pauseIfOverBudget();
  }

  /**
   * A worker's report of what its calls spent since its last one: added to the run's spend, which pauses the run
   * the moment it reaches the budget. The answer tells the worker whether to start new calls.
   */
  onSpend(report: SpendReport): SpendView {
    const { state } = this;
    const before = state.spent;
    state.spent = {
      calls: before.calls + report.calls,
      usage: addUsage(before.usage, report.usage),
      costUsd: before.costUsd + report.costUsd,
    };
    if (!state.budgetReached && overBudget(state)) {
      state.budgetReached = { spent: runSpendOf(state), inFlight: report.inFlight };
    }
    this.pauseIfOverBudget();
    return { spent: runSpendOf(state), budget: state.budget, stopped: overBudget(state), resumes: state.resumes };
  }

  private unpause(): void {
    const { state } = this;
    if (!state.paused) return;
    state.paused = false;
    state.pauseReason = undefined;
    state.pausedMs += Date.now() - (state.pausedSinceMs ?? Date.now());
    state.pausedSinceMs = undefined;
    this.status = 'running';
    upsertSearchAttributes([{ key: EvolStatus, value: 'running' }]);
    // Instructions stopped by a configuration error start again, now that it is fixed.
    state.restarting = [...(state.restarting ?? []), ...state.retryOnResume];
    state.pending.unshift(...state.retryOnResume.splice(0));
    state.inFlightAtResume = [...this.inFlight];
  }

  private pauseIfOverBudget(): void {
    const reason = budgetReached(this.runId, this.state);
    if (reason) this.pause(reason);
  }

  /** An instruction workflow's report: counted, or (a configuration error) kept to start again on resume. */
  onInstructionFinished(report: InstructionReport): void {
    const { state } = this;
    if (!this.inFlight.delete(report.instructionId)) return; // a repeated report changes nothing
    const startedBeforeResume = removeFrom(state.inFlightAtResume, report.instructionId);
    if (report.status === 'failed' && NON_RETRYABLE_LLM_FAILURES.includes(report.errorType ?? '')) {
      if (startedBeforeResume) {
        // It failed on the setting the user has fixed since: start it again, no new pause.
        state.restarting = [...(state.restarting ?? []), report.instructionId];
        state.pending.unshift(report.instructionId);
        return;
      }
      state.retryOnResume.push(report.instructionId);
      this.pause(
        `LLM configuration error (${report.errorType}): ${report.error} Fix it, then run: evol resume ${this.runId}`,
      );
      return;
    }
    tally(state.counts, report);
    this.pauseIfOverBudget();
  }

  /** Every running instruction has been told of the current pause (or resume). */
  get pausePropagated(): boolean {
    return this.childrenPaused === this.state.paused;
  }

  get finished(): boolean {
    return !this.hasWorkToStart() && this.inFlight.size === 0 && this.state.retryOnResume.length === 0;
  }

  /** No seed ids read and not started: the next page is to be read before anything starts. */
  get needsPage(): boolean {
    return this.state.pending.length === 0;
  }

  private hasWorkToStart(): boolean {
    return this.state.pending.length > 0 || this.state.nextOffset < this.totalSeeds;
  }

  /** What the main loop waits for: a pause to pass on, the end, continue-as-new, or room to start more. */
  hasNextStep(): boolean {
    return (
      !this.pausePropagated ||
      this.finished ||
      workflowInfo().continueAsNewSuggested ||
      (!this.state.paused && this.inFlight.size < this.config.concurrency && this.hasWorkToStart())
    );
  }

  /**
   * Tells every running instruction of the current pause (or resume), and the run's batcher in Batch API mode (it
   * cancels its open batches at the provider on pause, and sends again on resume).
   */
  async propagatePause(): Promise<void> {
    const paused = this.state.paused;
    await Promise.all(
      [...[...this.inFlight].map((id) => this.workflowIdOf(id)), ...this.batcherIds()].map(async (workflowId) => {
        try {
          const handle = getExternalWorkflowHandle(workflowId);
          await (paused
            ? handle.signal(pauseSignal, {})
            : handle.signal(resumeSignal, { resumes: this.state.resumes }));
        } catch {
          // It ended in the meantime; its report is on its way.
        }
      }),
    );
    this.childrenPaused = paused;
  }

  async readNextPage(): Promise<void> {
    const { state } = this;
    const { ids, done } = await this.store.readSeedPage({
      runId: this.runId,
      offset: state.nextOffset,
      limit: this.config.pageSize,
      ...(this.config.retry?.onlyFailed ? { onlyFailed: true } : {}),
    });
    // A store with fewer seeds than the run expected must not loop forever.
    state.nextOffset = ids.length ? state.nextOffset + ids.length : this.totalSeeds;
    const recorded = new Set(done);
    for (const id of ids) {
      if (recorded.has(id)) {
        countAlreadyDone(state.counts);
      } else {
        state.pending.push(id);
      }
    }
  }

  /**
   * Starts as many pending instructions as the window has room for, all at once. Not async: the main loop awaits
   * the starts themselves, as it did before this was a method, so nothing in the order of their commands moves.
   */
  startBatch(): Promise<void[]> {
    const batch = this.state.pending.splice(0, this.config.concurrency - this.inFlight.size);
    batch.forEach((id) => this.inFlight.add(id));
    return Promise.all(batch.map((id) => this.startInstruction(id)));
  }

  /** Once every signal handler has returned: the same run goes on in a new execution, with its state so far. */
  async continueAsNew(): Promise<never> {
    await condition(allHandlersFinished);
    return continueAsNew<typeof datasetEvolution>({
      runId: this.runId,
      totalSeeds: this.totalSeeds,
      config: this.config,
      state: { ...this.state, inFlight: [...this.inFlight], continuedAsNew: this.state.continuedAsNew + 1 },
    });
  }

  complete(): RunProgress {
    this.status = 'completed';
    upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
    return this.progress();
  }

  /** The batcher's workflow id, when the run uses the Batch API (it may not be running: signals to it may fail). */
  private batcherIds(): string[] {
    return usesBatch(this.config.llm) ? [this.ids.batch] : [];
  }

  /**
   * The run was cancelled: so is every instruction still running (even though this workflow's scope is), and the
   * batcher in Batch API mode (it cancels its open batches at the provider).
   */
  async cancelAll(): Promise<void> {
    this.status = 'cancelled';
    await CancellationScope.nonCancellable(() =>
      Promise.all(
        [...[...this.inFlight].map((id) => this.workflowIdOf(id)), ...this.batcherIds()].map(async (workflowId) => {
          try {
            await getExternalWorkflowHandle(workflowId).cancel();
          } catch {
            // Already closed.
          }
        }),
      ),
    );
  }

  private async startInstruction(instructionId: string): Promise<void> {
    const { state } = this;
    for (let attempt = 1; ; attempt++) {
      if (!(await this.startByActivity(instructionId))) {
        removeFrom(state.restarting, instructionId);
        return;
      }
      // A failed execution we are restarting has reported but may not have closed yet: give it a moment.
      if (state.restarting?.includes(instructionId) && attempt < 120) {
        await sleep('1s');
        continue;
      }
      removeFrom(state.restarting, instructionId);
      // Started by an earlier incarnation of this run: it reports here when it ends, unless it already has.
      if (
        (await this.store.readSeedRecorded({ runId: this.runId, instructionId })).recorded &&
        this.inFlight.delete(instructionId)
      ) {
        countAlreadyDone(state.counts);
      }
      return;
    }
  }

  /**
   * Starts it from a local activity with the worker's client (not as a child workflow: each child's start and end
   * cost this workflow an event and a workflow task); true when its id was taken. Always runs to the end, so a
   * cancel finds it. Ids and settings only: the activity reads the seed and the run's settings into its input.
   */
  private async startByActivity(instructionId: string): Promise<boolean> {
    const { config } = this;
    const parentWorkflowId = workflowInfo().workflowId;
    const input: Omit<DatasetInstructionInput, 'begun'> = {
      kind: 'dataset',
      runId: this.runId,
      instructionId,
      rounds: config.rounds,
      seed: config.seed,
      parentWorkflowId,
      ...(config.llmRetry ? { llmRetry: config.llmRetry } : {}),
    };
    const { outcome } = await CancellationScope.nonCancellable(() =>
      this.localStarts.startInstruction({
        input,
        ...(config.retry ? { resumeFrom: { fromRound: config.retry.fromRound } } : {}),
        workflowId: this.workflowIdOf(instructionId),
        staticSummary: instructionSummary(this.runId, instructionId, config.rounds),
        staticDetails: instructionDetails({ ...config, parentWorkflowId }),
      }),
    );
    return outcome === 'already-started';
  }
}

/** Removes `id` from the list if there; says whether it was. */
function removeFrom(list: string[] | undefined, id: string): boolean {
  const at = list?.indexOf(id) ?? -1;
  if (at >= 0) list!.splice(at, 1);
  return at >= 0;
}

function initialState(input: DatasetEvolutionInput): DatasetState {
  return {
    nextOffset: 0,
    pending: [],
    inFlight: [],
    retryOnResume: [],
    counts: emptyCounts(input.config.rounds),
    paused: false,
    startedAtMs: Date.now(),
    pausedMs: 0,
    continuedAsNew: 0,
    budget: input.config.budget,
    spent: ZERO_SPEND,
    resumes: 0,
  };
}

/** An instruction found recorded by an earlier run: done, without a report. */
function countAlreadyDone(counts: RunCounts): void {
  counts.alreadyDone++;
  counts.done++;
}

function tally(counts: RunCounts, report: InstructionReport): void {
  counts.done++;
  if (report.status === 'completed') counts.completed++;
  else counts.failed++;
  for (const round of report.rounds) {
    const i = round.round - 1;
    if (round.passed) counts.passedByRound[i] = (counts.passedByRound[i] ?? 0) + 1;
    else {
      counts.eliminatedByRound[i] = (counts.eliminatedByRound[i] ?? 0) + 1;
      const rule = round.rule ?? 'unknown';
      counts.eliminationsByRule[rule] = (counts.eliminationsByRule[rule] ?? 0) + 1;
    }
  }
  counts.usage = addUsage(counts.usage, report.usage);
  counts.costUsd += report.costUsd;
  counts.reasks += report.reasks ?? 0;
  counts.retries += report.retries ?? 0;
  counts.calls = (counts.calls ?? 0) + (report.calls ?? 0);
}

/** What the run has spent so far (core/dataset.ts runSpend). */
function runSpendOf(state: DatasetState): Spend {
  return runSpend(state.spent, state.counts);
}

function overBudget(state: DatasetState): boolean {
  return budgetReachedBy(state.budget, runSpendOf(state));
}

function budgetReached(runId: string, state: DatasetState): string | undefined {
  if (!overBudget(state)) return undefined;
  const { maxTokens, maxCost } = state.budget;
  const { usage, costUsd } = runSpendOf(state);
  const inFlight = state.budgetReached?.inFlight;
  const finishing = inFlight ? ` (${plural(inFlight, 'call')} in flight then finish and add to it)` : '';
  if (maxTokens !== undefined && usage.totalTokens >= maxTokens) {
    return `token budget reached: ${usage.totalTokens} of ${plural(maxTokens, 'token')} spent${finishing}. Raise it with: evol resume ${runId} --max-tokens N`;
  }
  return `cost budget reached: $${costUsd.toFixed(4)} of $${maxCost} spent${finishing}. Raise it with: evol resume ${runId} --max-cost USD`;
}
