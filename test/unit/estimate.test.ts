import { estimateBesideSpend } from '../../client/estimate-table';
import { resolveLlmConfig, ROLE_DEFAULTS, type ConfigFile } from '../../core/config';
import { buildEqualityMessages } from '../../core/elimination';
import {
  batchSeenAtMs,
  estimateRun,
  estimateSummaryOf,
  expectedGrowthChars,
  promptChars,
  type EstimateRequest,
} from '../../core/estimate';
import { resolveBatchSettings, SIMULATED_BATCH_SETTINGS } from '../../core/batch';
import { GENERAL_OPERATIONS, RESPONDER_SYSTEM, type Operation } from '../../core/operations';
import { DEFAULT_PRICES, type PriceTable } from '../../core/pricing';
import { resolveDatasetRunSettings } from '../../core/run-settings';
import { parseRunMeta } from '../../core/run';
import { DatasetRunConfigSchema } from '../../core/settings-schemas';

/** One operation of known prompt: a 40-character system message and a 9-character lead before the instruction. */
const REWRITE: Operation = {
  id: 'rewrite',
  kind: 'custom',
  weight: 1,
  system: 'S'.repeat(40),
  template: 'Rewrite: {instruction}',
};

/** A run's settings as `evol run` resolves them, on gpt-4o-mini (priced by the default table). */
function settingsFor(
  options: {
    operations?: Operation[];
    rounds?: number;
    concurrency?: number;
    seedAnswers?: boolean;
    rpm?: number;
    tpm?: number;
    batch?: boolean;
    file?: ConfigFile;
    prices?: PriceTable;
  } = {},
) {
  const { llm } = resolveLlmConfig({ env: { OPENAI_API_KEY: 'k' }, file: options.file });
  const { config } = resolveDatasetRunSettings({
    llm,
    simulated: false,
    llmDescription: '',
    method: { name: 'test', operations: options.operations ?? [REWRITE] },
    file: options.file,
    prices: options.prices ?? DEFAULT_PRICES,
    rounds: options.rounds ?? 1,
    concurrency: options.concurrency,
    rpm: options.rpm,
    tpm: options.tpm,
    batch: options.batch,
    seedAnswers: options.seedAnswers,
  });
  return DatasetRunConfigSchema.parse(config);
}

const seed = (id: string, length = 47, output?: string) => ({
  id,
  text: 'x'.repeat(length),
  ...(output ? { output } : {}),
});
const tokens = (chars: number) => Math.ceil(chars / 4);

/** The judge's fixed prompt: its system message and the comparison request around the two instructions. */
const JUDGE_CHARS = promptChars(buildEqualityMessages('', ''));
/** The judge's JSON answer, `{"second_is":"TASK","keeps_task":"YES","verdict":"NOT EQUAL"}`: 62 characters. */
const VERDICT_TOKENS = 16;

/** The tokens of one round of REWRITE on a parent of `parent` characters: its rewrite is 90 characters longer. */
function roundTokens(parent: number): number {
  const rewrite = parent + 90;
  const evolver = tokens(40 + 9 + parent) + tokens(rewrite);
  const responder = tokens(RESPONDER_SYSTEM.length + rewrite) + 256;
  const judge = tokens(JUDGE_CHARS + parent + rewrite) + VERDICT_TOKENS;
  return evolver + responder + judge;
}

describe('the estimate of a run, before any call', () => {
  test("a call's prompt tokens are the characters of the prompt the run builds, four to a token", () => {
    const estimate = estimateRun({ seeds: [seed('a')], settings: settingsFor({ seedAnswers: false }) });
    expect(estimate.byRole.evolver.usage).toEqual({ promptTokens: 24, completionTokens: 35, totalTokens: 59 });
    expect(estimate.byRole.responder.usage.promptTokens).toBe(tokens(RESPONDER_SYSTEM.length + 137));
    expect(estimate.byRole.responder.usage.completionTokens).toBe(256);
    expect(estimate.byRole.judge.usage).toMatchObject({
      promptTokens: tokens(JUDGE_CHARS + 47 + 137),
      completionTokens: VERDICT_TOKENS,
    });
    expect(estimate.usage.totalTokens).toBe(roundTokens(47));
  });

  test('each round mutates, then answers and judges the rewrite, which the next round evolves', () => {
    const estimate = estimateRun({ seeds: [seed('a')], settings: settingsFor({ rounds: 3, seedAnswers: false }) });
    expect(estimate.byRound).toEqual([
      { round: 1, calls: 3, usage: expect.objectContaining({ totalTokens: roundTokens(47) }) },
      { round: 2, calls: 3, usage: expect.objectContaining({ totalTokens: roundTokens(137) }) },
      { round: 3, calls: 3, usage: expect.objectContaining({ totalTokens: roundTokens(227) }) },
    ]);
  });

  test('seeds without an answer in the file get one answer each, unless seed answers are off', () => {
    const seeds = [seed('a'), seed('b', 47, 'an answer of its own'), seed('c', 83)];
    const settings = settingsFor({ rounds: 3 });
    const estimate = estimateRun({ seeds, settings });
    expect(estimate.calls).toBe(2 + 3 * 3 * 3);
    expect(estimate.byRole.responder.calls).toBe(2 + 9);
    expect(estimate.byRound[0]).toEqual({
      round: 0,
      calls: 2,
      usage: expect.objectContaining({
        promptTokens: tokens(RESPONDER_SYSTEM.length + 47) + tokens(RESPONDER_SYSTEM.length + 83),
        completionTokens: 512,
      }),
    });
    expect(estimateRun({ seeds, settings: settingsFor({ rounds: 3, seedAnswers: false }) }).calls).toBe(27);
  });

  test("each seed's rounds apply the operations of its own plan: a rewrite grows by what its operation asks", () => {
    const growth = Object.fromEntries(GENERAL_OPERATIONS.map((op) => [op.id, expectedGrowthChars(op)]));
    expect(growth).toEqual({
      'add-constraints': 90,
      deepening: 90,
      concretizing: 90,
      'reasoning-steps': 90,
      'complicating-input': 240,
      'in-breadth': 0,
    });
    // The same seed file under another plan seed draws other operations, so other prompts.
    const seeds = Array.from({ length: 8 }, (_, i) => seed(`s${i}`));
    const operations = [...GENERAL_OPERATIONS];
    const one = estimateRun({ seeds, settings: { ...settingsFor({ operations, rounds: 2 }), seed: 1 } });
    const two = estimateRun({ seeds, settings: { ...settingsFor({ operations, rounds: 2 }), seed: 2 } });
    expect(one.calls).toBe(two.calls);
    expect(one.usage.totalTokens).not.toBe(two.usage.totalTokens);
  });

  test("answers are capped at the role's maxTokens, and the upper bound puts every answer there", () => {
    const file: ConfigFile = { llm: { responder: { maxTokens: 100 } } };
    const estimate = estimateRun({ seeds: [seed('a')], settings: settingsFor({ rounds: 2, file }) });
    expect(estimate.byRole.responder.usage.completionTokens).toBe(3 * 100);
    const upper = estimate.upperBound.usage.completionTokens;
    expect(upper).toBe(2 * 2048 + 3 * 100 + 2 * ROLE_DEFAULTS.judge.maxTokens);
    expect(estimate.upperBound.usage.totalTokens).toBeGreaterThan(estimate.usage.totalTokens);
  });

  test('answer lengths learned from a sample replace the assumed ones', () => {
    const estimate = estimateRun({
      seeds: [seed('a')],
      settings: settingsFor({ rounds: 2, seedAnswers: false }),
      learned: { seeds: 1, calls: 3, responseTokens: 50, verdictTokens: 2, rewriteGrowthChars: 0 },
    });
    expect(estimate.byRole.responder.usage.completionTokens).toBe(2 * 50);
    expect(estimate.byRole.judge.usage.completionTokens).toBe(2 * 2);
    // Rewrites as long as their parent: round 2's prompts are round 1's.
    expect(estimate.byRound[1].usage).toEqual(estimate.byRound[0].usage);
    expect(estimate.assumptions.join('\n')).toContain('(sampled)');
  });

  test('the cost is by the price table, and Batch API rows at its batch prices (half by default)', () => {
    const seeds = [seed('a'), seed('b')];
    const online = estimateRun({ seeds, settings: settingsFor({ rounds: 2 }) });
    const { usage } = online;
    const mini = DEFAULT_PRICES['gpt-4o-mini'];
    expect(online.costUsd).toBeCloseTo(
      (usage.promptTokens * mini.inputPerMillion + usage.completionTokens * mini.outputPerMillion) / 1e6,
      10,
    );
    const batch = estimateRun({ seeds, settings: settingsFor({ rounds: 2, batch: true }) });
    expect(batch.usage).toEqual(usage);
    expect(batch.byRole.evolver.mode).toBe('batch');
    expect(batch.costUsd).toBeCloseTo(online.costUsd / 2, 10);
    const prices = {
      'gpt-4o-mini': { inputPerMillion: 1, outputPerMillion: 1, batchInputPerMillion: 0.1, batchOutputPerMillion: 0.1 },
    };
    const own = estimateRun({ seeds, settings: settingsFor({ rounds: 2, batch: true, prices }) });
    expect(own.costUsd).toBeCloseTo((usage.totalTokens * 0.1) / 1e6, 10);
  });

  test('a model without a price costs 0, and the estimate says so', () => {
    const estimate = estimateRun({ seeds: [seed('a')], settings: settingsFor({ prices: {} }) });
    expect(estimate.costUsd).toBe(0);
    expect(estimate.byRole.judge.unpriced).toBe(true);
    expect(estimate.assumptions.join('\n')).toContain('no price for gpt-4o-mini');
  });
});

describe('the wall time of a run', () => {
  const seeds = Array.from({ length: 4 }, (_, i) => seed(`s${i}`));

  test('without rate limits, instructions go `concurrency` at once, each round a rewrite then two calls at once', () => {
    const request: EstimateRequest = {
      seeds,
      settings: settingsFor({ rounds: 2, concurrency: 2, seedAnswers: false }),
      latencyMs: 1000,
    };
    const { wall } = estimateRun(request);
    // Each seed: 2 rounds of (1 s, then 1 s for the answer and the verdict at once); 4 seeds, 2 at a time.
    expect(wall.seconds).toBeCloseTo((4 * 2 * 2) / 2, 6);
    expect(wall.boundBy).toContain('--concurrency 2');
    // Never less than one instruction takes, however many run at once.
    expect(estimateRun({ ...request, settings: settingsFor({ rounds: 2, concurrency: 64 }) }).wall.seconds).toBe(4);
  });

  test('an rpm limit bounds it by the calls, a tpm limit by the tokens, at the share the limiter spends', () => {
    const settings = settingsFor({ rounds: 2, concurrency: 4, seedAnswers: false, rpm: 6 });
    const byRpm = estimateRun({ seeds, settings, latencyMs: 1000 });
    expect(byRpm.calls).toBe(24);
    expect(byRpm.wall.seconds).toBeCloseTo((24 * 60) / (6 * 0.97), 6);
    expect(byRpm.wall.boundBy).toContain('--rpm 6');
    const byTpm = estimateRun({
      seeds,
      settings: settingsFor({ rounds: 2, seedAnswers: false, tpm: 1000 }),
      latencyMs: 1000,
    });
    expect(byTpm.wall.seconds).toBeCloseTo((byTpm.usage.totalTokens * 60) / (1000 * 0.97), 6);
    expect(byTpm.wall.boundBy).toContain('--tpm 1000');
  });

  test('without a given latency, a call takes half a second and then its answer at 50 tokens a second', () => {
    const { wall, byRole } = estimateRun({ seeds: [seed('a')], settings: settingsFor({ seedAnswers: false }) });
    expect(byRole.evolver.usage.completionTokens).toBe(35);
    expect(wall.seconds).toBeCloseTo(0.5 + 35 / 50 + (0.5 + 256 / 50), 6);
  });

  test('in Batch API mode each round waits for its batches: sent after maxWaitMs, seen at a status check', () => {
    const defaults = resolveBatchSettings(undefined);
    expect(batchSeenAtMs(0, defaults)).toBe(30_000);
    expect(batchSeenAtMs(40_000, defaults)).toBe(30_000 + 45_000);
    const simulated = resolveBatchSettings(SIMULATED_BATCH_SETTINGS);
    expect(batchSeenAtMs(1000, simulated)).toBe(500 + 750);

    const { wall } = estimateRun({ seeds: [seed('a')], settings: settingsFor({ batch: true, seedAnswers: false }) });
    // One round: the rewrite's batch, then the answer's and the verdict's, each 60 s to fill and 30 s to be seen.
    expect(wall.seconds).toBe(2 * (60 + 30));
    expect(wall.upperSeconds).toBe(2 * (60 + batchSeenAtMs(24 * 3600_000, defaults) / 1000));
  });
});

describe('the estimate a run keeps', () => {
  const estimate = estimateSummaryOf(estimateRun({ seeds: [seed('a')], settings: settingsFor() }));
  const meta = {
    runId: 'r1',
    createdAt: '2026-01-01T00:00:00.000Z',
    inputFile: '/data/seeds.jsonl',
    seedCount: 1,
    invalidRows: 0,
    duplicateRows: 0,
    config: { kind: 'dataset', ...settingsFor() },
  };

  test("is read back with the run's meta, and a damaged one is refused naming its field", () => {
    expect(parseRunMeta({ ...meta, estimate }, 'meta.json').estimate).toEqual(estimate);
    expect(parseRunMeta(meta, 'meta.json').estimate).toBeUndefined();
    expect(() => parseRunMeta({ ...meta, estimate: { ...estimate, totalTokens: -1 } }, 'r1/meta.json')).toThrow(
      /r1\/meta\.json: .*estimate\.totalTokens/,
    );
  });

  test('evol status shows it beside the spend so far; a run without one shows none', () => {
    const spent = { calls: 3, usage: { promptTokens: 40, completionTokens: 10, totalTokens: 50 }, costUsd: 0.001 };
    const [line] = estimateBesideSpend(estimate, spent);
    expect(line).toContain(`estimated: ${estimate.totalTokens} tokens, $${estimate.costUsd.toFixed(4)}`);
    expect(line).toContain(
      `spent so far: 50 tokens, $0.0010 (${Math.round((100 * 50) / estimate.totalTokens)}% of the estimate)`,
    );
    expect(estimateBesideSpend(undefined, spent)).toEqual([]);
  });
});
