/**
 * The side effects of `evol score`: choose the rows to score, and rate one row with the scorer LLM, once. A row
 * whose score is in the run store is never asked again, whoever asks (a retry, a crash, a second `evol score`).
 */
import { reaskMessages } from '../core/reask';
import {
  buildScoreMessages,
  parseRowId,
  parseScores,
  planScoreRows,
  SCORE_SCHEMA,
  scorableRows,
  type RowScore,
} from '../core/scoring';
import { ZERO_USAGE } from '../core/usage';
import type { LlmEndpoint } from '../core/endpoints';
import type { Lineage } from '../core/lineage';
import type { RunStore } from '../store/types';
import type { LlmGateway } from './llm';
import {
  attemptNumber,
  completeOrEmpty,
  unusableResult,
  type CallFacts,
  type Unusable,
  type Reasked,
} from './unusable';

export interface PlanScoresInput {
  runId: string;
  /** At most this many rows of each round; all when absent. */
  perRound?: number;
  /** Only these rounds (0: the seeds); all when absent. */
  rounds?: number[];
  seed: number;
}

export interface RateRowInput extends Reasked {
  runId: string;
  rowId: string;
  scorer: LlmEndpoint;
}

export type RateRowResult = (CallFacts & { ok: true; score: RowScore; cached: boolean }) | Unusable;

function textOf(record: Lineage | undefined, round: number): string | undefined {
  if (!record) return undefined;
  if (round === 0) return record.seed;
  return record.steps.find((s) => s.round === round && s.verdict.passed)?.instruction;
}

export function createScoringActivities(llm: LlmGateway, store: RunStore) {
  return {
    /** Chooses the rows to score and keeps the list in the store; the workflow reads it in pages. */
    async planScores(input: PlanScoresInput): Promise<{ total: number }> {
      const records: Lineage[] = [];
      for await (const record of store.records(input.runId)) records.push(record);
      const rowIds = planScoreRows(scorableRows(records), input);
      await store.saveScorePlan(input.runId, rowIds);
      return { total: rowIds.length };
    },

    async readScorePlan({ runId, offset, limit }: { runId: string; offset: number; limit: number }) {
      return { rowIds: (await store.scorePlan(runId)).slice(offset, offset + limit) };
    },

    /** Rates one row, unless its score is recorded: then that score, and no LLM call. */
    async rateRow(input: RateRowInput): Promise<RateRowResult> {
      const recorded = await store.score(input.runId, input.rowId);
      if (recorded) return { ok: true, score: recorded, cached: true, usage: ZERO_USAGE };
      const { seedId, round } = parseRowId(input.rowId);
      const text = textOf(await store.record(input.runId, seedId), round);
      if (text === undefined) throw new Error(`run ${input.runId} has no row ${input.rowId} to score`);
      const completion = await completeOrEmpty(
        llm,
        'judge',
        input.scorer,
        reaskMessages(buildScoreMessages(text), 'scorer', input.reask),
        { jsonSchema: SCORE_SCHEMA },
      );
      if ('ok' in completion) return completion;
      const ratings = parseScores(completion.text);
      if (!ratings) return unusableResult('it gives no difficulty and complexity from 1 to 10', completion);
      const score: RowScore = { rowId: input.rowId, seedId, round, ...ratings, model: input.scorer.model };
      await store.saveScore(input.runId, score);
      return { ok: true, score, cached: false, usage: completion.usage, attempt: attemptNumber() };
    },

    /** A row whose scorer kept answering unusably: recorded with the reason, so it is not asked again. */
    async recordScoreFailure({
      runId,
      rowId,
      reason,
      model,
    }: {
      runId: string;
      rowId: string;
      reason: string;
      model: string;
    }) {
      const { seedId, round } = parseRowId(rowId);
      await store.saveScore(runId, { rowId, seedId, round, failure: reason, model });
    },
  };
}

export type ScoringActivities = ReturnType<typeof createScoringActivities>;
