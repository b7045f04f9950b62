/**
 * Difficulty and complexity scores (WizardLM §4 rates each round's instructions 1-10 with an LLM and shows the
 * difficulty rising round by round): the prompt in our own words, the structured answer asked for, the lenient
 * reading of a prose one, and which rows of a run to score. Pure: no I/O.
 */
import type { ChatMessage } from './chat';
import { shuffled } from './prng';
import type { Lineage } from './lineage';
import type { LlmEndpoint } from './endpoints';
import type { Usage } from './usage';

/** One scored row of a run: a seed (round 0) or a passed round, by its export row id `<seedId>#<round>`. */
export interface RowScore {
  rowId: string;
  seedId: string;
  round: number;
  /** 1-10, absent when the scorer gave no usable rating. */
  difficulty?: number;
  complexity?: number;
  /** Why there is no rating: the scorer's answers were unusable. */
  failure?: string;
  model: string;
}

export const SCORE_SYSTEM =
  'You judge how demanding tasks for AI assistants are, consistently and without explanations.';

/** Opens the scoring prompt; the simulated LLM recognises score requests by it. */
export const SCORE_LEAD = 'Rate the task below on two scales from 1 to 10.';

export function buildScoreMessages(instruction: string): ChatMessage[] {
  return [
    { role: 'system', content: SCORE_SYSTEM },
    {
      role: 'user',
      content: [
        SCORE_LEAD,
        'Difficulty: how hard it is to answer well (1: anyone could; 10: a specialist would struggle).',
        'Complexity: how many requirements, steps and pieces of input a good answer must handle at once (1: one plain request; 10: many interlocking ones).',
        '',
        '<task>',
        instruction,
        '</task>',
        '',
        'Reply with a JSON object: {"difficulty": <1-10>, "complexity": <1-10>}.',
      ].join('\n'),
    },
  ];
}

const ONE_TO_TEN = { type: 'integer', enum: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] } as const;

export const SCORE_SCHEMA = {
  name: 'difficulty_rating',
  strict: true,
  schema: {
    type: 'object',
    properties: { difficulty: ONE_TO_TEN, complexity: ONE_TO_TEN },
    required: ['difficulty', 'complexity'],
    additionalProperties: false,
  },
} as const;

function rating(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 10 ? n : undefined;
}

/**
 * The two ratings from a JSON answer or from prose ("Difficulty: 7/10, complexity 5"); null when either is missing
 * or out of 1-10.
 */
export function parseScores(answer: string): { difficulty: number; complexity: number } | null {
  const field = (name: string) =>
    rating(
      new RegExp(`"?${name}"?\\s*[:=]?\\s*(?:is\\s+|of\\s+)?\\*{0,2}\\s*(\\d{1,2})(?!\\d|\\.\\d)`, 'i').exec(
        answer,
      )?.[1],
    );
  const difficulty = field('difficulty');
  const complexity = field('complexity');
  return difficulty !== undefined && complexity !== undefined ? { difficulty, complexity } : null;
}

/** A row of the final mix that can be scored. */
export interface ScorableRow {
  rowId: string;
  seedId: string;
  round: number;
  instruction: string;
}

/** The seed and every passed round of each completed record: what the export's mix is made of. */
export function scorableRows(records: Iterable<Lineage>): ScorableRow[] {
  const rows: ScorableRow[] = [];
  for (const lineage of records) {
    if (lineage.status !== 'completed') continue;
    rows.push({
      rowId: `${lineage.instructionId}#0`,
      seedId: lineage.instructionId,
      round: 0,
      instruction: lineage.seed,
    });
    for (const step of lineage.steps) {
      if (step.verdict.passed) {
        rows.push({
          rowId: `${lineage.instructionId}#${step.round}`,
          seedId: lineage.instructionId,
          round: step.round,
          instruction: step.instruction,
        });
      }
    }
  }
  return rows;
}

/**
 * Which rows to score: those of the rounds asked for, and at most `perRound` of each round (drawn with `seed`, the
 * same draw every time), so every round's curve point rests on as many rows as the others.
 */
export function planScoreRows(
  rows: readonly ScorableRow[],
  options: { perRound?: number; rounds?: readonly number[]; seed: number },
): string[] {
  const byRound = new Map<number, ScorableRow[]>();
  for (const row of rows) {
    if (options.rounds && !options.rounds.includes(row.round)) continue;
    byRound.set(row.round, [...(byRound.get(row.round) ?? []), row]);
  }
  const chosen: string[] = [];
  for (const round of [...byRound.keys()].sort((a, b) => a - b)) {
    const ids = shuffled(
      byRound
        .get(round)!
        .map((r) => r.rowId)
        .sort(),
      options.seed + round,
    );
    chosen.push(...(options.perRound === undefined ? ids : ids.slice(0, options.perRound)));
  }
  return chosen;
}

/** `<seedId>#<round>`: the seed id may itself hold `#`, the round is after the last one. */
export function parseRowId(rowId: string): { seedId: string; round: number } {
  const at = rowId.lastIndexOf('#');
  return { seedId: rowId.slice(0, at), round: Number(rowId.slice(at + 1)) };
}

// ---------------------------------------------------------------------------------------------
// `evol score`'s workflow: its input, state and progress (plain data)

export interface ScoreRunInput {
  runId: string;
  scorer: LlmEndpoint;
  concurrency: number;
  unusableRetries?: number;
  perRound?: number;
  rounds?: number[];
  seed: number;
  /** Absent on the first run; the state so far after continue-as-new. */
  state?: ScoreState;
}

export interface ScoreState {
  total: number;
  /** Plan entries handed out so far. */
  nextOffset: number;
  scored: number;
  /** Already in the store before this run asked. */
  cached: number;
  failed: number;
  reasks: number;
  usage: Usage;
  continuedAsNew: number;
}

export interface ScoreProgress extends ScoreState {
  runId: string;
  status: 'planning' | 'running' | 'completed';
  inFlight: number;
}
