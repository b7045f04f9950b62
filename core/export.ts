/**
 * Turning a run's lineages into training rows (pure: no I/O). Every row keeps its lineage ids in
 * `_evol`, a field the usual fine-tuning tools ignore, so a row can be traced back to its seed.
 */
import type { SeedRecord } from './run';
import type { BenchmarkIndex } from './contamination';
import { nearDuplicateClusters } from './near-duplicates';
import { shuffled } from './prng';
import type { RowScore } from './scoring';
import type { Lineage, LineageStep } from './lineage';
import { UserError } from './validation';

export const EXPORT_FORMATS = ['alpaca', 'sharegpt', 'messages'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_ROUNDS = ['all', 'final'] as const;
export type ExportRounds = (typeof EXPORT_ROUNDS)[number];

export interface ExportOptions {
  format: ExportFormat;
  /** `all`: every passed round (the paper's mix); `final`: the last passed round of each seed. */
  rounds: ExportRounds;
  /** Adds each seed as a row of round 0, with its answer from the seed file or, failing that, from the run. */
  includeSeeds: boolean;
  shuffle: boolean;
  /** Seed of the shuffle. */
  seed: number;
  /** Keeps the first N rows (after the shuffle, if any). */
  sample?: number;
  /** Keep one row of each cluster of near-duplicate instructions (MinHash, estimated Jaccard of word 3-grams). */
  dedup?: { threshold: number };
  /** Drop every row whose instruction shares a long run of words with a benchmark prompt. */
  decontaminate?: BenchmarkIndex;
}

export interface EvolIds {
  runId: string;
  seedId: string;
  /** 0 for the seed itself. */
  round: number;
  /** The evolution method, or `seed`. */
  operation: string;
  /** `<seedId>#<round>`. */
  rowId: string;
  /** The rowId of the instruction this one was evolved from; null for a seed. */
  parentId: string | null;
  /** 1-10, when `evol score` rated the row. */
  difficulty?: number;
  complexity?: number;
}

export interface ExportRow {
  instruction: string;
  output: string;
  _evol: EvolIds;
}

export interface ExportStats {
  /** Distinct records read, whatever their status. */
  records: number;
  /** Rows exported. */
  rows: number;
  /** Seeds left out because neither the seed file nor the run has an answer for them. */
  seedsWithoutOutput: number;
  /** Records still running or failed: none of their rows is exported. */
  skippedIncomplete: number;
  /** Rows seen again (a record read twice) and dropped. */
  duplicatesDropped: number;
  /** Rows dropped as near-duplicates of a row kept (with `dedup`), and the clusters they were in. */
  nearDuplicatesDropped?: number;
  nearDuplicateClusters?: number;
  /** Rows dropped for sharing a long run of words with a benchmark prompt (with `decontaminate`). */
  contaminatedDropped?: number;
}

export interface BuiltRows {
  rows: ExportRow[];
  stats: ExportStats;
  /** Things the user should know that are not errors (a sample larger than the export, say). */
  notes: string[];
}

/** Refuses options the CLI could not have meant, with a sentence that says what to pass. */
export function checkExportOptions(options: ExportOptions): void {
  if (!EXPORT_FORMATS.includes(options.format))
    throw new UserError(`unknown export format "${options.format}": use ${EXPORT_FORMATS.join(', ')}`);
  if (!EXPORT_ROUNDS.includes(options.rounds))
    throw new UserError(`unknown --rounds "${options.rounds}": use all or final`);
  if (!Number.isSafeInteger(options.seed) || options.seed < 0)
    throw new UserError(`--seed must be a non-negative integer, got ${options.seed}`);
  if (options.sample !== undefined && (!Number.isSafeInteger(options.sample) || options.sample < 1))
    throw new UserError(`--sample must be a positive integer, got ${options.sample}`);
}

export function rowIdOf(seedId: string, round: number): string {
  return `${seedId}#${round}`;
}

export function buildRows(
  records: Iterable<Lineage>,
  seeds: Map<string, SeedRecord> | undefined,
  options: ExportOptions,
  scores?: ReadonlyMap<string, RowScore>,
): BuiltRows {
  checkExportOptions(options);
  const recordIds = new Set<string>();
  const incompleteIds = new Set<string>();
  const candidates: ExportRow[] = [];
  const seedsWithoutOutput = new Set<string>();
  for (const lineage of records) {
    recordIds.add(lineage.instructionId);
    if (lineage.status !== 'completed') {
      incompleteIds.add(lineage.instructionId);
      continue;
    }
    if (options.includeSeeds) {
      const seedRow = seedRowOf(lineage, seeds?.get(lineage.instructionId));
      if (seedRow) candidates.push(seedRow);
      else seedsWithoutOutput.add(lineage.instructionId);
    }
    candidates.push(...roundRowsOf(lineage, options.rounds));
  }
  const { unique, dropped } = dropDuplicateRows(candidates);
  const scored = scores?.size ? unique.map((row) => withScore(row, scores.get(row._evol.rowId))) : unique;
  const clean = options.decontaminate ? scored.filter((row) => !options.decontaminate!.hit(row.instruction)) : scored;
  const kept = options.dedup ? dropNearDuplicates(clean, options.dedup.threshold) : { rows: clean, clusters: 0 };
  const ordered = orderRows(kept.rows, options);
  const { rows, notes } = sampleRows(ordered, options.sample);
  assertUniqueRowIds(rows);
  return {
    rows,
    notes,
    stats: {
      records: recordIds.size,
      rows: rows.length,
      seedsWithoutOutput: seedsWithoutOutput.size,
      skippedIncomplete: incompleteIds.size,
      duplicatesDropped: dropped,
      ...(options.decontaminate ? { contaminatedDropped: scored.length - clean.length } : {}),
      ...(options.dedup
        ? { nearDuplicatesDropped: clean.length - kept.rows.length, nearDuplicateClusters: kept.clusters }
        : {}),
    },
  };
}

function withScore(row: ExportRow, score: RowScore | undefined): ExportRow {
  if (score?.difficulty === undefined) return row;
  return { ...row, _evol: { ...row._evol, difficulty: score.difficulty, complexity: score.complexity } };
}

/**
 * One row per cluster of near-duplicate instructions: the first in seed and round order (seeds before rounds). A
 * seed's own rounds are never folded into each other: they keep most of their parent's words by design.
 */
function dropNearDuplicates(rows: readonly ExportRow[], threshold: number): { rows: ExportRow[]; clusters: number } {
  const ordered = [...rows].sort(compareRows);
  const clusters = nearDuplicateClusters(
    ordered,
    (row) => row.instruction,
    threshold,
    (row) => row._evol.seedId,
  );
  const dropped = new Set(clusters.flatMap((cluster) => cluster.members.slice(1)));
  return { rows: ordered.filter((row) => !dropped.has(row)), clusters: clusters.length };
}

/** The seed with its own answer from the file, else the one the run's responder gave. */
function seedRowOf(lineage: Lineage, seed: SeedRecord | undefined): ExportRow | undefined {
  const output = seed?.output?.trim() ? seed.output : lineage.seedResponse;
  if (output === undefined || output.trim() === '') return undefined;
  return {
    instruction: lineage.seed,
    output,
    _evol: idsOf(lineage, 0, 'seed', null),
  };
}

function roundRowsOf(lineage: Lineage, rounds: ExportRounds): ExportRow[] {
  const passed = passedSteps(lineage);
  const chosen = rounds === 'final' ? passed.slice(-1) : passed;
  return chosen.map((step) => ({
    instruction: step.instruction,
    output: step.response,
    _evol: idsOf(lineage, step.round, step.operation, parentIdOf(lineage, step, passed)),
  }));
}

function passedSteps(lineage: Lineage): LineageStep[] {
  return lineage.steps.filter((step) => step.verdict.passed).sort((a, b) => a.round - b.round);
}

/**
 * The row a step evolved from: the seed when its parent is the seed's text, else the latest earlier
 * passed round with that instruction. A parent that matches nothing (hand-edited data) falls back
 * to what the workflow would have evolved: the latest earlier passed round, or the seed.
 */
function parentIdOf(lineage: Lineage, step: LineageStep, passed: readonly LineageStep[]): string {
  const seedId = lineage.instructionId;
  if (step.parent === lineage.seed) return rowIdOf(seedId, 0);
  const earlier = passed.filter((candidate) => candidate.round < step.round).reverse();
  const match = earlier.find((candidate) => candidate.instruction === step.parent) ?? earlier[0];
  return rowIdOf(seedId, match ? match.round : 0);
}

function idsOf(lineage: Lineage, round: number, operation: string, parentId: string | null): EvolIds {
  const seedId = lineage.instructionId;
  return { runId: lineage.runId, seedId, round, operation, rowId: rowIdOf(seedId, round), parentId };
}

function dropDuplicateRows(rows: readonly ExportRow[]): { unique: ExportRow[]; dropped: number } {
  const seen = new Set<string>();
  const unique = rows.filter((row) => {
    if (seen.has(row._evol.rowId)) return false;
    seen.add(row._evol.rowId);
    return true;
  });
  return { unique, dropped: rows.length - unique.length };
}

function orderRows(rows: ExportRow[], options: ExportOptions): ExportRow[] {
  // Sorting first makes the shuffle independent of the order the store listed its records in.
  const sorted = [...rows].sort(compareRows);
  return options.shuffle ? shuffled(sorted, options.seed) : sorted;
}

function compareRows(a: ExportRow, b: ExportRow): number {
  return compareSeedIds(a._evol.seedId, b._evol.seedId) || a._evol.round - b._evol.round;
}

/** Natural order: `line-2` before `line-10`; ties (`a01`, `a1`) broken by plain code-unit order. */
export function compareSeedIds(a: string, b: string): number {
  const left = a.split(/(\d+)/);
  const right = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    // split() with a capture group puts the digit runs at odd indexes.
    const order = i % 2 === 1 ? compareDigitRuns(left[i], right[i]) : compareCodeUnits(left[i], right[i]);
    if (order !== 0) return order;
  }
  return left.length - right.length || compareCodeUnits(a, b);
}

function compareDigitRuns(a: string, b: string): number {
  const left = a.replace(/^0+/, '');
  const right = b.replace(/^0+/, '');
  return left.length - right.length || compareCodeUnits(left, right);
}

function compareCodeUnits(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function sampleRows(rows: ExportRow[], sample: number | undefined): { rows: ExportRow[]; notes: string[] } {
  if (sample === undefined) return { rows, notes: [] };
  if (sample > rows.length)
    return { rows, notes: [`--sample ${sample} asked for more rows than the export has: all ${rows.length} kept`] };
  return { rows: rows.slice(0, sample), notes: [] };
}

function assertUniqueRowIds(rows: readonly ExportRow[]): void {
  const ids = new Set(rows.map((row) => row._evol.rowId));
  if (ids.size !== rows.length) throw new Error('export invariant broken: a rowId appears more than once');
}

/** One row in the shape a training tool reads, lineage ids kept alongside. */
export function formatRow(row: ExportRow, format: ExportFormat): unknown {
  switch (format) {
    case 'alpaca':
      return { instruction: row.instruction, input: '', output: row.output, _evol: row._evol };
    case 'sharegpt':
    case 'messages': {
      const turns = CHAT_TURNS[format];
      const turn = (who: string, text: string) => ({ [turns.speaker]: who, [turns.text]: text });
      return {
        [turns.list]: [turn(turns.user, row.instruction), turn(turns.assistant, row.output)],
        _evol: row._evol,
      };
    }
  }
}

/** How the two chat formats name a conversation, its turns and their speakers. */
const CHAT_TURNS = {
  sharegpt: { list: 'conversations', speaker: 'from', text: 'value', user: 'human', assistant: 'gpt' },
  messages: { list: 'messages', speaker: 'role', text: 'content', user: 'user', assistant: 'assistant' },
} as const;

/**
 * The export file as chunks of text, one row per line: JSONL, or for alpaca a JSON array whose
 * elements sit one per line, so it streams and still parses as a whole.
 */
export function* serializeRows(rows: Iterable<ExportRow>, format: ExportFormat): Generator<string> {
  if (format !== 'alpaca') {
    for (const row of rows) yield `${JSON.stringify(formatRow(row, format))}\n`;
    return;
  }
  yield '[';
  let separator = '\n';
  for (const row of rows) {
    yield `${separator}${JSON.stringify(formatRow(row, format))}`;
    separator = ',\n';
  }
  yield '\n]\n';
}
