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
  ParentClosePolicy,
  patched,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  emptyCounts,
  type DatasetEvolutionInput,
  type DatasetState,
  type InstructionReport,
  type RunCounts,
  type RunProgress,
  type RunStatus,
} from '../core/dataset';
import { runWorkflowIds, type RunWorkflowIds } from '../core/ids';
import { NON_RETRYABLE_LLM_FAILURES } from '../core/llm-failures';
import { EvolStatus, instructionStartAttributes } from '../core/search-attributes';
import type { InstructionEvolutionInput } from '../core/schemas';
import { instructionDetails, instructionSummary } from '../core/summaries';
import { addUsage } from '../core/usage';
import { localStartActivities, storeActivities } from './activity-options';
import { instructionEvolution } from './instruction-evolution';
import { instructionFinishedSignal, pauseSignal, progressQuery, resumeSignal } from '../core/messages';

export async function datasetEvolution(input: DatasetEvolutionInput): Promise<RunProgress> {
  const { runId, totalSeeds, config } = input;
  const state: DatasetState = input.state ?? initialState(input);
  const inFlight = new Set(state.inFlight);
  const store = storeActivities();
  const localStarts = localStartActivities();
  let status: RunStatus = state.paused ? 'paused' : 'running';
  // Children are told of a pause or resume from the main loop, not from the signal handler.
  let childrenPaused = state.paused;

  const progress = (): RunProgress => ({
    runId,
    status,
    pauseReason: state.pauseReason,
    totalSeeds,
    started: state.counts.done - state.counts.alreadyDone + inFlight.size,
    inFlight: inFlight.size,
    counts: state.counts,
    concurrency: config.concurrency,
    budget: state.budget,
    startedAtMs: state.startedAtMs,
    activeMs:
      Date.now() - state.startedAtMs - state.pausedMs - (state.pausedSinceMs ? Date.now() - state.pausedSinceMs : 0),
    continuedAsNew: state.continuedAsNew,
    pausePropagated: childrenPaused === state.paused,
  });

  const pause = (reason: string) => {
    if (state.paused) return;
    state.paused = true;
    state.pauseReason = reason;
    state.pausedSinceMs = Date.now();
    status = 'paused';
    upsertSearchAttributes([{ key: EvolStatus, value: 'paused' }]);
  };
  const resume = () => {
    if (!state.paused) return;
    state.paused = false;
    state.pauseReason = undefined;
    state.pausedMs += Date.now() - (state.pausedSinceMs ?? Date.now());
    state.pausedSinceMs = undefined;
    status = 'running';
    upsertSearchAttributes([{ key: EvolStatus, value: 'running' }]);
    // Instructions stopped by a configuration error start again, now that it is fixed.
    state.restarting = [...(state.restarting ?? []), ...state.retryOnResume];
    state.pending.unshift(...state.retryOnResume.splice(0));
    state.inFlightAtResume = [...inFlight];
  };
  const checkBudget = () => {
    const reason = budgetReached(state);
    if (reason) pause(reason);
  };

  setHandler(progressQuery, progress);
  setHandler(pauseSignal, ({ reason }) => pause(reason ?? 'paused by request (evol pause)'));
  setHandler(resumeSignal, ({ budget }) => {
    if (budget) state.budget = { ...state.budget, ...budget };
    resume();
    checkBudget();
  });
  setHandler(instructionFinishedSignal, (report) => {
    if (!inFlight.delete(report.instructionId)) return; // a repeated report changes nothing
    const startedBeforeResume = removeFrom(state.inFlightAtResume, report.instructionId);
    if (report.status === 'failed' && NON_RETRYABLE_LLM_FAILURES.includes(report.errorType ?? '')) {
      if (startedBeforeResume) {
        // It failed on the setting the user has fixed since: start it again, no new pause.
        state.restarting = [...(state.restarting ?? []), report.instructionId];
        state.pending.unshift(report.instructionId);
        return;
      }
      state.retryOnResume.push(report.instructionId);
      pause(`LLM configuration error (${report.errorType}): ${report.error} Fix it, then run: evol resume ${runId}`);
      return;
    }
    tally(state.counts, report);
    checkBudget();
  });

  const hasWorkToStart = () => state.pending.length > 0 || state.nextOffset < totalSeeds;
  const finished = () => !hasWorkToStart() && inFlight.size === 0 && state.retryOnResume.length === 0;

  try {
    for (;;) {
      await condition(
        () =>
          childrenPaused !== state.paused ||
          finished() ||
          workflowInfo().continueAsNewSuggested ||
          (!state.paused && inFlight.size < config.concurrency && hasWorkToStart()),
      );
      if (childrenPaused !== state.paused) {
        const target = state.paused;
        await tellChildren(runWorkflowIds(runId, config.idScheme), [...inFlight], target);
        childrenPaused = target;
        continue;
      }
      if (finished()) break;
      if (workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        return await continueAsNew<typeof datasetEvolution>({
          runId,
          totalSeeds,
          config,
          state: { ...state, inFlight: [...inFlight], continuedAsNew: state.continuedAsNew + 1 },
        });
      }
      if (state.pending.length === 0) {
        await readNextPage();
        continue;
      }
      const batch = state.pending.splice(0, config.concurrency - inFlight.size);
      batch.forEach((id) => inFlight.add(id));
      await Promise.all(batch.map(startInstruction));
    }
  } catch (err) {
    if (isCancellation(err)) {
      status = 'cancelled';
      await CancellationScope.nonCancellable(() =>
        cancelChildren(runWorkflowIds(runId, config.idScheme), [...inFlight]),
      );
    }
    throw err;
  }

  status = 'completed';
  upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
  return progress();

  async function readNextPage(): Promise<void> {
    const { ids, done } = await store.readSeedPage({
      runId,
      offset: state.nextOffset,
      limit: config.pageSize,
      ...(config.retry?.onlyFailed ? { onlyFailed: true } : {}),
    });
    // A store with fewer seeds than the run expected must not loop forever.
    state.nextOffset = ids.length ? state.nextOffset + ids.length : totalSeeds;
    const recorded = new Set(done);
    for (const id of ids) {
      if (recorded.has(id)) {
        state.counts.alreadyDone++;
        state.counts.done++;
      } else {
        state.pending.push(id);
      }
    }
  }

  async function startInstruction(instructionId: string): Promise<void> {
    const parentWorkflowId = workflowInfo().workflowId;
    // Added after the first release: instruction workflows are started from a local activity with the worker's
    // client, no longer as child workflows. A child's start and its end each added an event and a workflow task to
    // this workflow's history, about half of its work per seed on the Temporal server, which the benchmark showed
    // to be what limits throughput. Nothing else needed the parent-child link: children were abandoned on close,
    // report by signal, are paused and cancelled by id, and are listed by their run's search attributes.
    // Histories recorded before it start children and replay on that path.
    const byActivity = patched('instructions-started-by-activity');
    for (let attempt = 1; ; attempt++) {
      const alreadyStarted = byActivity
        ? await startByActivity(instructionId, parentWorkflowId)
        : await startChildOnce(instructionId, parentWorkflowId);
      if (!alreadyStarted) {
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
      if ((await store.readSeedRecorded({ runId, instructionId })).recorded && inFlight.delete(instructionId)) {
        state.counts.alreadyDone++;
        state.counts.done++;
      }
      return;
    }
  }

  /** What an instruction workflow of this run is started with: ids and settings, never data. */
  function instructionInput(instructionId: string, parentWorkflowId: string): InstructionEvolutionInput {
    return {
      runId,
      instructionId,
      rounds: config.rounds,
      seed: config.seed,
      // No llm, operations or prices: the instruction workflow reads them from the run store with its seed (they
      // would make up most of this workflow's history, once per seed).
      saveToStore: true,
      parentWorkflowId,
      ...(config.retry ? { resumeFrom: { fromRound: config.retry.fromRound } } : {}),
      ...(config.llmRetry ? { llmRetry: config.llmRetry } : {}),
    };
  }

  /** Starts it from a local activity; true when its id was taken. Always runs to the end, so a cancel finds it. */
  async function startByActivity(instructionId: string, parentWorkflowId: string): Promise<boolean> {
    const { outcome } = await CancellationScope.nonCancellable(() =>
      localStarts.startInstruction({
        input: instructionInput(instructionId, parentWorkflowId),
        workflowId: runWorkflowIds(runId, config.idScheme).instruction(instructionId),
        staticSummary: instructionSummary(runId, instructionId, config.rounds),
        staticDetails: instructionDetails({ ...config, parentWorkflowId }),
      }),
    );
    return outcome === 'already-started';
  }

  /** Starts it as a child workflow (histories recorded before instructions were started by activity); true when its id was taken. */
  async function startChildOnce(instructionId: string, parentWorkflowId: string): Promise<boolean> {
    try {
      await startChild(instructionEvolution, {
        workflowId: runWorkflowIds(runId, config.idScheme).instruction(instructionId),
        args: [instructionInput(instructionId, parentWorkflowId)],
        // Ids and settings only: the seed text must stay out of this workflow's history.
        staticSummary: instructionSummary(runId, instructionId, config.rounds),
        staticDetails: instructionDetails({ ...config, parentWorkflowId }),
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        typedSearchAttributes: instructionStartAttributes(runId, instructionId),
      });
      return false;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return true;
      throw err;
    }
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
  };
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
  if (report.reasks) counts.reasks = (counts.reasks ?? 0) + report.reasks;
  if (report.retries) counts.retries = (counts.retries ?? 0) + report.retries;
}

function budgetReached(state: DatasetState): string | undefined {
  const { maxTokens, maxCost } = state.budget;
  const { usage, costUsd } = state.counts;
  if (maxTokens !== undefined && usage.totalTokens >= maxTokens) {
    return `token budget reached: ${usage.totalTokens} of ${maxTokens} tokens spent. Raise it with: evol resume RUN --max-tokens N`;
  }
  if (maxCost !== undefined && costUsd >= maxCost) {
    return `cost budget reached: $${costUsd.toFixed(4)} of $${maxCost} spent. Raise it with: evol resume RUN --max-cost USD`;
  }
  return undefined;
}

async function tellChildren(workflowIds: RunWorkflowIds, ids: string[], paused: boolean): Promise<void> {
  await Promise.all(
    ids.map(async (id) => {
      try {
        const handle = getExternalWorkflowHandle(workflowIds.instruction(id));
        await (paused ? handle.signal(pauseSignal, {}) : handle.signal(resumeSignal, {}));
      } catch {
        // It ended in the meantime; its report is on its way.
      }
    }),
  );
}

async function cancelChildren(workflowIds: RunWorkflowIds, ids: string[]): Promise<void> {
  await Promise.all(
    ids.map(async (id) => {
      try {
        await getExternalWorkflowHandle(workflowIds.instruction(id)).cancel();
      } catch {
        // Already closed.
      }
    }),
  );
}
