/**
 * The figures of `evol report`, from a run's records and scores: the funnel per round, the operation mix, lengths,
 * difficulty, spend, near-duplicates, contamination, and lineages to read. Pure: no I/O; the same figures feed the
 * HTML page and the terminal.
 */
import type { BenchmarkIndex, ContaminationHit } from './contamination';
import { DEFAULT_DUPLICATE_THRESHOLD, nearDuplicateClusters } from './near-duplicates';
import { countWords } from './elimination';
import { shuffled } from './prng';
import type { RowScore } from './scoring';
import { scorableRows } from './scoring';
import type { Lineage, RoleSpend } from './lineage';
import type { LlmRole } from './endpoints';
import { ZERO_USAGE } from './usage';
import { plural } from './plural';

export interface Quantiles {
  n: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
  mean: number;
}

export interface FunnelRound {
  round: number;
  evolved: number;
  passed: number;
  /** Eliminations by rule or gate. */
  eliminated: Record<string, number>;
}

export interface OperationFigures {
  operation: string;
  evolved: number;
  passed: number;
}

export interface RoundSpend {
  /** 0: answering the seeds. */
  round: number;
  role: LlmRole | 'all';
  tokens: number;
  costUsd: number;
}

export interface LineageView {
  seedId: string;
  seed: string;
  steps: Array<{ round: number; operation: string; instruction: string; verdict: string; response: string }>;
}

export interface ReportData {
  runId: string;
  seeds: number;
  records: number;
  completed: number;
  failed: number;
  rounds: number;
  funnel: FunnelRound[];
  operations: OperationFigures[];
  instructionWords: Array<{ round: number } & Quantiles>;
  responseWords: Array<{ round: number } & Quantiles>;
  scores: Array<{ round: number; difficulty: Quantiles; complexity: Quantiles; unrated: number }>;
  spend: RoundSpend[];
  duplicates: { threshold: number; clusters: number; rowsInClusters: number; examples: string[][] };
  contamination?: { benchmarkNgrams: number; hits: number; examples: Array<{ rowId: string } & ContaminationHit> };
  lineages: LineageView[];
}

export function quantiles(values: readonly number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => {
    if (!sorted.length) return 0;
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  };
  return {
    n: sorted.length,
    min: sorted[0] ?? 0,
    q1: at(0.25),
    median: at(0.5),
    q3: at(0.75),
    max: sorted[sorted.length - 1] ?? 0,
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0,
  };
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function byRound<T extends { round: number }>(values: Map<number, number[]>, make: (round: number, q: Quantiles) => T) {
  return [...values.keys()].sort((a, b) => a - b).map((round) => make(round, quantiles(values.get(round)!)));
}

function push(map: Map<number, number[]>, round: number, value: number): void {
  const list = map.get(round);
  if (list) list.push(value);
  else map.set(round, [value]);
}

export interface ReportOptions {
  /** Seeds in the run (its meta), for "records so far". */
  seeds: number;
  rounds: number;
  duplicateThreshold?: number;
  benchmarks?: BenchmarkIndex;
  /** Lineages shown to read. */
  lineageSample?: number;
}

export function buildReportData(
  runId: string,
  records: readonly Lineage[],
  scores: readonly RowScore[],
  options: ReportOptions,
): ReportData {
  const operations = new Map<string, OperationFigures>();
  const instructionWords = new Map<number, number[]>();
  const responseWords = new Map<number, number[]>();
  const spend = new Map<string, RoundSpend>();
  const addSpend = (round: number, role: RoundSpend['role'], s: RoleSpend) => {
    const key = `${round}:${role}`;
    const before = spend.get(key) ?? { round, role, tokens: 0, costUsd: 0 };
    spend.set(key, { ...before, tokens: before.tokens + s.usage.totalTokens, costUsd: before.costUsd + s.costUsd });
  };
  let completed = 0;
  for (const lineage of records) {
    if (lineage.status === 'completed') completed++;
    push(instructionWords, 0, countWords(lineage.seed));
    if (lineage.seedCalls) addSpend(0, 'responder', lineage.seedCalls);
    if (lineage.seedResponse) push(responseWords, 0, countWords(lineage.seedResponse));
    for (const step of lineage.steps) {
      const op = operations.get(step.operation) ?? { operation: step.operation, evolved: 0, passed: 0 };
      op.evolved++;
      if (step.verdict.passed) {
        op.passed++;
        push(instructionWords, step.round, countWords(step.instruction));
        push(responseWords, step.round, countWords(step.response));
      }
      operations.set(step.operation, op);
      const roles = Object.entries(step.byRole ?? {}) as Array<[LlmRole, RoleSpend]>;
      if (roles.length) for (const [role, s] of roles) addSpend(step.round, role, s);
      else addSpend(step.round, 'all', { usage: step.usage ?? ZERO_USAGE, costUsd: step.costUsd ?? 0 });
    }
  }

  const rows = scorableRows(records);
  const threshold = options.duplicateThreshold ?? DEFAULT_DUPLICATE_THRESHOLD;
  const clusters = nearDuplicateClusters(
    rows,
    (row) => row.instruction,
    threshold,
    (row) => row.seedId,
  );
  const hits = options.benchmarks
    ? rows.flatMap((row) => {
        const hit = options.benchmarks!.hit(row.instruction);
        return hit ? [{ rowId: row.rowId, ...hit }] : [];
      })
    : undefined;

  return {
    runId,
    seeds: options.seeds,
    records: records.length,
    completed,
    failed: records.length - completed,
    rounds: options.rounds,
    funnel: funnelOf(records),
    operations: [...operations.values()].sort(
      (a, b) => b.evolved - a.evolved || a.operation.localeCompare(b.operation),
    ),
    instructionWords: byRound(instructionWords, (round, q) => ({ round, ...q })),
    responseWords: byRound(responseWords, (round, q) => ({ round, ...q })),
    scores: scoresByRound(scores),
    spend: [...spend.values()].sort((a, b) => a.round - b.round || a.role.localeCompare(b.role)),
    duplicates: {
      threshold,
      clusters: clusters.length,
      rowsInClusters: clusters.reduce((n, c) => n + c.members.length, 0),
      examples: clusters
        .slice()
        .sort((a, b) => b.members.length - a.members.length)
        .slice(0, 5)
        .map((c) => c.members.slice(0, 4).map((row) => `${row.rowId}: ${clip(row.instruction, 160)}`)),
    },
    ...(hits && options.benchmarks
      ? { contamination: { benchmarkNgrams: options.benchmarks.size, hits: hits.length, examples: hits.slice(0, 10) } }
      : {}),
    lineages: sampleLineages(records, options.lineageSample ?? 8),
  };
}

/** Per round: the evolutions made, those that passed, and the eliminations by rule or gate. */
export function funnelOf(records: readonly Lineage[]): FunnelRound[] {
  const funnel = new Map<number, FunnelRound>();
  for (const step of records.flatMap((lineage) => lineage.steps)) {
    const f = funnel.get(step.round) ?? { round: step.round, evolved: 0, passed: 0, eliminated: {} };
    f.evolved++;
    if (step.verdict.passed) f.passed++;
    else f.eliminated[step.verdict.rule] = (f.eliminated[step.verdict.rule] ?? 0) + 1;
    funnel.set(step.round, f);
  }
  return [...funnel.values()].sort((a, b) => a.round - b.round);
}

/** Difficulty and complexity per round, and the rows of each round that got no usable rating. */
export function scoresByRound(scores: readonly RowScore[]): ReportData['scores'] {
  const difficulty = new Map<number, number[]>();
  const complexity = new Map<number, number[]>();
  const unrated = new Map<number, number>();
  for (const score of scores) {
    if (score.difficulty === undefined || score.complexity === undefined) {
      unrated.set(score.round, (unrated.get(score.round) ?? 0) + 1);
      continue;
    }
    push(difficulty, score.round, score.difficulty);
    push(complexity, score.round, score.complexity);
  }
  return [...new Set([...difficulty.keys(), ...unrated.keys()])]
    .sort((a, b) => a - b)
    .map((round) => ({
      round,
      difficulty: quantiles(difficulty.get(round) ?? []),
      complexity: quantiles(complexity.get(round) ?? []),
      unrated: unrated.get(round) ?? 0,
    }));
}

/** `  round 2: difficulty 5.60, complexity 4.40 (5 rated)`, as the report and `evol score` print it. */
export function scoreLine(s: ReportData['scores'][number]): string {
  const means = s.difficulty.n
    ? `difficulty ${s.difficulty.mean.toFixed(2)}, complexity ${s.complexity.mean.toFixed(2)}`
    : 'not rated';
  return `  round ${s.round}: ${means} (${s.difficulty.n} rated${s.unrated ? `, ${s.unrated} without a usable rating` : ''})`;
}

/** A few lineages to read, drawn the same way every time: seeds whose evolution has rounds. */
function sampleLineages(records: readonly Lineage[], count: number): LineageView[] {
  const withSteps = shuffled(
    records
      .filter((r) => r.steps.length > 0)
      .sort((a, b) => (a.instructionId < b.instructionId ? -1 : a.instructionId > b.instructionId ? 1 : 0)),
    7,
  );
  return withSteps.slice(0, count).map((lineage) => ({
    seedId: lineage.instructionId,
    seed: clip(lineage.seed, 600),
    steps: lineage.steps.map((step) => ({
      round: step.round,
      operation: step.operation,
      instruction: clip(step.instruction, 600),
      verdict: step.verdict.passed ? 'passed' : `${step.verdict.rule}: ${clip(step.verdict.evidence, 200)}`,
      response: clip(step.response, 300),
    })),
  }));
}

/** Every figure as lines for a terminal (`evol report --text`). */
export function reportText(data: ReportData): string[] {
  const pct = (a: number, b: number) => (b ? `${Math.round((100 * a) / b)}%` : '-');
  const q = (x: Quantiles) => `median ${x.median.toFixed(0)} (IQR ${x.q1.toFixed(0)}-${x.q3.toFixed(0)}, n ${x.n})`;
  const lines = [
    `Run ${data.runId}: ${data.records} of ${plural(data.seeds, 'seed')} recorded (${data.completed} completed, ${data.failed} failed), ${plural(data.rounds, 'round')}`,
    '',
    'Funnel per round',
    ...data.funnel.map(
      (f) =>
        `  round ${f.round}: ${f.evolved} evolved, ${f.passed} passed (${pct(f.passed, f.evolved)})${
          Object.keys(f.eliminated).length
            ? `; eliminated: ${Object.entries(f.eliminated)
                .map(([rule, n]) => `${rule} ${n}`)
                .join(', ')}`
            : ''
        }`,
    ),
    '',
    'Operations',
    ...data.operations.map(
      (o) => `  ${o.operation}: ${o.evolved} evolved, ${o.passed} passed (${pct(o.passed, o.evolved)})`,
    ),
    '',
    'Instruction length in words (round 0: the seeds)',
    ...data.instructionWords.map((w) => `  round ${w.round}: ${q(w)}`),
    'Response length in words',
    ...data.responseWords.map((w) => `  round ${w.round}: ${q(w)}`),
    '',
    'Difficulty and complexity, 1-10 (round 0: the seeds)',
    ...(data.scores.length ? data.scores.map(scoreLine) : [`  not scored yet: evol score ${data.runId}`]),
    '',
    'Tokens and cost per round and role (round 0: answering the seeds)',
    ...data.spend.map((s) => `  round ${s.round} ${s.role}: ${plural(s.tokens, 'token')}, $${s.costUsd.toFixed(4)}`),
    '',
    `Near-duplicates (estimated Jaccard of word 3-grams >= ${data.duplicates.threshold}): ${plural(data.duplicates.clusters, 'cluster')}, ${plural(data.duplicates.rowsInClusters, 'row')}`,
    ...data.duplicates.examples.flatMap((cluster, i) => [`  cluster ${i + 1}:`, ...cluster.map((row) => `    ${row}`)]),
  ];
  if (data.contamination) {
    lines.push(
      '',
      `Contamination: ${plural(data.contamination.hits, 'row')} ${data.contamination.hits === 1 ? 'shares' : 'share'} a run of words with a benchmark prompt`,
      ...data.contamination.examples.map((h) => `  ${h.rowId} ~ ${h.source}: "${h.ngram}"`),
    );
  }
  return lines;
}
