import { buildReportData, quantiles, reportText } from '../../core/report-data';
import { BenchmarkIndex } from '../../core/contamination';
import type { RowScore } from '../../core/scoring';
import type { Lineage, LineageStep } from '../../core/lineage';

const usage = (n: number) => ({ promptTokens: n, completionTokens: 0, totalTokens: n });

function step(round: number, operation: string, passed: boolean | string, words: number): LineageStep {
  return {
    round,
    operation,
    parent: 'p',
    instruction: Array.from({ length: words }, (_, i) => `w${round}x${i}`).join(' '),
    response: passed === true ? 'an answer of five words' : '',
    verdict: passed === true ? { passed: true } : { passed: false, rule: passed as never, evidence: 'e' },
    usage: usage(30),
    costUsd: 0.003,
    byRole: {
      evolver: { usage: usage(10), costUsd: 0.001 },
      responder: { usage: usage(15), costUsd: 0.0015 },
      judge: { usage: usage(5), costUsd: 0.0005 },
    },
  };
}

const record = (id: string, steps: LineageStep[], status: Lineage['status'] = 'completed'): Lineage => ({
  runId: 'r1',
  instructionId: id,
  seed: `Seed ${id} asks for something.`,
  status,
  rounds: 2,
  steps,
  final: '',
  usage: usage(60),
  costUsd: 0.006,
  seedResponse: 'the seed answered',
  seedCalls: { usage: usage(7), costUsd: 0.0007, reasks: 0, retries: 0 },
});

const RECORDS = [
  record('a', [step(1, 'add-constraints', true, 10), step(2, 'deepening', 'no-information-gain', 12)]),
  record('b', [step(1, 'add-constraints', 'copies-prompt', 5), step(2, 'in-breadth', true, 20)]),
  record('c', [step(1, 'deepening', true, 14)], 'failed'),
];
const SCORES: RowScore[] = [
  { rowId: 'a#0', seedId: 'a', round: 0, difficulty: 2, complexity: 1, model: 'm' },
  { rowId: 'b#0', seedId: 'b', round: 0, difficulty: 4, complexity: 3, model: 'm' },
  { rowId: 'a#1', seedId: 'a', round: 1, difficulty: 6, complexity: 5, model: 'm' },
  { rowId: 'b#2', seedId: 'b', round: 2, failure: 'no usable rating', model: 'm' },
];

describe('the figures of a report', () => {
  const data = buildReportData('r1', RECORDS, SCORES, { seeds: 4, rounds: 2 });

  test('the funnel per round counts evolved, passed and eliminated by rule', () => {
    expect(data.funnel).toEqual([
      { round: 1, evolved: 3, passed: 2, eliminated: { 'copies-prompt': 1 } },
      { round: 2, evolved: 2, passed: 1, eliminated: { 'no-information-gain': 1 } },
    ]);
    expect(data).toMatchObject({ seeds: 4, records: 3, completed: 2, failed: 1 });
  });

  test('operations with their pass counts, the most used first', () => {
    expect(data.operations).toEqual([
      { operation: 'add-constraints', evolved: 2, passed: 1 },
      { operation: 'deepening', evolved: 2, passed: 1 },
      { operation: 'in-breadth', evolved: 1, passed: 1 },
    ]);
  });

  test('lengths are distributions of the passed rows, the seeds as round 0', () => {
    expect(data.instructionWords.map((w) => [w.round, w.n, w.min, w.max])).toEqual([
      [0, 3, 5, 5],
      [1, 2, 10, 14],
      [2, 1, 20, 20],
    ]);
  });

  test('scores per round, with the rows that got no usable rating', () => {
    expect(data.scores.map((s) => [s.round, s.difficulty.mean, s.complexity.mean, s.unrated])).toEqual([
      [0, 3, 2, 0],
      [1, 6, 5, 0],
      [2, 0, 0, 1],
    ]);
  });

  test('tokens and cost by round and role, answering the seeds as round 0', () => {
    const of = (round: number, role: string) => data.spend.find((s) => s.round === round && s.role === role);
    expect(of(0, 'responder')).toEqual({ round: 0, role: 'responder', tokens: 21, costUsd: expect.closeTo(0.0021) });
    expect(of(1, 'evolver')?.tokens).toBe(30);
    expect(of(2, 'judge')?.tokens).toBe(10);
  });

  test('contamination hits name the row, the benchmark prompt and the words', () => {
    const benchmarks = new BenchmarkIndex([{ source: 'bench.jsonl:3', text: RECORDS[1].steps[1].instruction }]);
    const withHits = buildReportData('r1', RECORDS, SCORES, { seeds: 4, rounds: 2, benchmarks });
    expect(withHits.contamination).toMatchObject({ hits: 1, examples: [{ rowId: 'b#2', source: 'bench.jsonl:3' }] });
  });

  test('the terminal version says the same', () => {
    const text = reportText(data).join('\n');
    expect(text).toContain('round 1: 3 evolved, 2 passed (67%); eliminated: copies-prompt 1');
    expect(text).toContain('round 1: difficulty 6.00, complexity 5.00 (1 rated)');
    expect(text).toContain('round 2: not rated (0 rated, 1 without a usable rating)');
  });

  test('quantiles interpolate', () => {
    expect(quantiles([1, 2, 3, 4])).toMatchObject({ min: 1, q1: 1.75, median: 2.5, q3: 3.25, max: 4, mean: 2.5 });
    expect(quantiles([])).toMatchObject({ n: 0, median: 0 });
  });
});
