/**
 * `evol score`: rates the difficulty and complexity of a run's rows (a sample per round) with the scorer LLM, each
 * rating one activity, at most `concurrency` at once. A rating is written to the run store before its activity
 * completes, and read from there before any call, so a crash or a second run never asks for one twice. The plan
 * (which rows) is in the store; this workflow carries only counts and offsets, and continues as new when the
 * server suggests it.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  setWorkflowOptions,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { scoreProgressQuery } from '../core/messages';
import { DEFAULT_UNUSABLE_RETRIES } from '../core/quality';
import type { ScoreProgress, ScoreRunInput, ScoreState } from '../core/scoring';
import { EvolStatus } from '../core/search-attributes';
import { addUsage, ZERO_USAGE } from '../core/usage';
import { LLM_RETRY_POLICY, LLM_TIMEOUT_MARGIN_MS, storeActivities } from './activity-options';
import { askUntilUsable } from './reask';
import { plural } from '../core/plural';

const PAGE = 200;

export async function scoreRun(input: ScoreRunInput): Promise<ScoreProgress> {
  const store = storeActivities();
  // Choosing the rows reads every record of the run: minutes for the largest runs.
  const planner = proxyActivities<Activities>({ startToCloseTimeout: '15 minutes', retry: { maximumAttempts: 5 } });
  const llm = proxyActivities<Activities>({
    startToCloseTimeout: input.scorer.requestTimeoutMs + LLM_TIMEOUT_MARGIN_MS,
    retry: LLM_RETRY_POLICY,
  });
  let status: ScoreProgress['status'] = input.state ? 'running' : 'planning';
  let inFlight = 0;
  const state: ScoreState = input.state ?? {
    total: 0,
    nextOffset: 0,
    scored: 0,
    cached: 0,
    failed: 0,
    reasks: 0,
    usage: ZERO_USAGE,
    continuedAsNew: 0,
  };
  setHandler(scoreProgressQuery, () => ({ ...state, runId: input.runId, status, inFlight }));

  if (!input.state) {
    const { total } = await planner.planScores({
      runId: input.runId,
      seed: input.seed,
      ...(input.perRound !== undefined ? { perRound: input.perRound } : {}),
      ...(input.rounds ? { rounds: input.rounds } : {}),
    });
    state.total = total;
    status = 'running';
  }

  /** One row, asked again at once while the answer is unusable; recorded as failed after the limit. */
  const scoreOne = async (rowId: string): Promise<void> => {
    const { result, asks } = await askUntilUsable(
      input.unusableRetries ?? DEFAULT_UNUSABLE_RETRIES,
      async (reask, asks) => {
        if (asks > 1) state.reasks++;
        const rated = await llm.rateRow({
          runId: input.runId,
          rowId,
          scorer: input.scorer,
          ...(reask ? { reask } : {}),
        });
        state.usage = addUsage(state.usage, rated.usage);
        return rated;
      },
    );
    if (result.ok) {
      if (result.cached) state.cached++;
      else state.scored++;
      return;
    }
    const reason = `no usable rating in ${plural(asks, 'ask')}: ${result.unusable.reason}`;
    await store.recordScoreFailure({ runId: input.runId, rowId, reason, model: input.scorer.model });
    state.failed++;
  };

  // A call that fails for good (a rejected key, an outage past every retry) ends the run once the others are done;
  // `evol score` again goes on where it stopped, since every score already written is kept.
  let failure: unknown;
  while (state.nextOffset < state.total && failure === undefined) {
    if (workflowInfo().continueAsNewSuggested) {
      await condition(() => inFlight === 0 && allHandlersFinished());
      return continueAsNew<typeof scoreRun>({
        ...input,
        state: { ...state, continuedAsNew: state.continuedAsNew + 1 },
      });
    }
    const { rowIds } = await store.readScorePlan({ runId: input.runId, offset: state.nextOffset, limit: PAGE });
    if (rowIds.length === 0) break; // the plan was replaced: nothing more to hand out
    state.nextOffset += rowIds.length;
    for (const rowId of rowIds) {
      await condition(() => inFlight < input.concurrency || failure !== undefined);
      if (failure !== undefined) break;
      inFlight++;
      void scoreOne(rowId)
        .catch((err: unknown) => void (failure ??= err))
        .finally(() => inFlight--);
    }
  }
  await condition(() => inFlight === 0);
  if (failure !== undefined) throw failure;
  status = 'completed';
  upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
  return { ...state, runId: input.runId, status, inFlight };
}

// A scoring may take hours:
// it moves to the current build at its next workflow task, so a change to this file ships behind patched()
// (docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, scoreRun);
