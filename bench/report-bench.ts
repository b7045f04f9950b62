/**
 * How long `evol report` takes, and how large its page is, for a run of N seeds: writes a synthetic run of N
 * lineages (R rounds, about a third of rounds eliminated, responses of 100-300 words) and a score for every row into
 * a temporary run store, then builds the report as the command does and prints the figures.
 * Usage: npm run bench:report -- [--seeds 1000] [--rounds 4]
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatasetRun } from '../client/api';
import { renderReportHtml, reportDataOf, svgRenderer } from '../client/report';
import { resolveLlmConfig } from '../core/config';
import { GENERAL_OPERATIONS } from '../core/operations';
import { createPrng } from '../core/prng';
import type { Lineage, LineageStep } from '../core/lineage';
import { scorableRows } from '../core/scoring';
import { LocalRunStore } from '../store/local-run-store';

const VOCABULARY = (
  'explain describe compare analyse the a of to in for with and on by design evaluate list three five steps ' +
  'data table function algorithm history economy climate energy protein market network policy budget city river ' +
  'student teacher patient engine sensor contract memory language model error test proof theorem graph'
).split(' ');

function words(random: () => number, n: number): string {
  return Array.from({ length: n }, () => VOCABULARY[Math.floor(random() * VOCABULARY.length)]).join(' ');
}

const OPERATIONS = GENERAL_OPERATIONS.map((op) => op.id);
const RULES = ['no-information-gain', 'sorry-short', 'copies-prompt', 'answered-not-rewritten', 'lost-task'];
const usage = (n: number) => ({
  promptTokens: n,
  completionTokens: Math.round(n / 2),
  totalTokens: n + Math.round(n / 2),
});

function lineage(runId: string, i: number, rounds: number, random: () => number): Lineage {
  const seed = words(random, 8 + Math.floor(random() * 20));
  const steps: LineageStep[] = [];
  let parent = seed;
  for (let round = 1; round <= rounds; round++) {
    const passed = random() > 0.3;
    const instruction = `${parent} ${words(random, 8 + Math.floor(random() * 12))}`;
    steps.push({
      round,
      operation: OPERATIONS[Math.floor(random() * OPERATIONS.length)],
      parent,
      instruction,
      response: passed ? words(random, 100 + Math.floor(random() * 200)) : '',
      verdict: passed
        ? { passed: true }
        : { passed: false, rule: RULES[Math.floor(random() * RULES.length)] as never, evidence: 'synthetic' },
      usage: usage(900),
      costUsd: 0.0004,
      // A third of a round's tokens to the evolver, half to the responder, a sixth to the judge.
      byRole: Object.fromEntries(
        (['evolver', 'responder', 'judge'] as const).map((role, i) => [
          role,
          { usage: usage([300, 450, 150][i]), costUsd: [0.0001, 0.00025, 0.00005][i] },
        ]),
      ),
    });
    if (passed) parent = instruction;
  }
  return {
    runId,
    instructionId: `s${i}`,
    seed,
    status: 'completed',
    rounds,
    steps,
    final: parent,
    usage: usage(900 * rounds),
    costUsd: 0.0004 * rounds,
    seedResponse: words(random, 150),
    seedCalls: { usage: usage(300), costUsd: 0.0001, reasks: 0, retries: 0 },
  };
}

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

async function main(): Promise<void> {
  const seeds = arg('seeds', 1000);
  const rounds = arg('rounds', 4);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'evolforge-report-bench-'));
  try {
    const store = new LocalRunStore(root);
    const runId = 'bench';
    const random = createPrng(1);
    const records = Array.from({ length: seeds }, (_, i) => lineage(runId, i + 1, rounds, random));
    await createDatasetRun(store, {
      runId,
      inputFile: 'synthetic',
      seeds: records.map((r) => ({ id: r.instructionId, text: r.seed, source: { file: 'synthetic', line: 1 } })),
      config: {
        rounds,
        seed: 0,
        llm: resolveLlmConfig({ env: {}, mode: 'sim' }).llm,
        method: 'general',
        operations: [...GENERAL_OPERATIONS],
        concurrency: 1,
      },
    });
    for (const record of records) await store.saveRecord(record);
    const rows = scorableRows(records);
    for (const row of rows) {
      await store.saveScore(runId, {
        rowId: row.rowId,
        seedId: row.seedId,
        round: row.round,
        difficulty: Math.min(10, 2 + row.round + Math.floor(random() * 3)),
        complexity: Math.min(10, 1 + row.round + Math.floor(random() * 3)),
        model: 'synthetic',
      });
    }
    const started = process.hrtime.bigint();
    const data = await reportDataOf(store, runId, { lineages: 8 });
    const figured = process.hrtime.bigint();
    const html = await renderReportHtml(data, await svgRenderer());
    const rendered = process.hrtime.bigint();
    const ms = (from: bigint, to: bigint) => Number(to - from) / 1e6;
    console.log(`report of ${seeds} seeds x ${rounds} rounds (${rows.length} rows, every one scored):`);
    console.log(`  figures (read the store, lengths, scores, near-duplicates): ${ms(started, figured).toFixed(0)} ms`);
    console.log(`  charts rendered to SVG and the page written:              ${ms(figured, rendered).toFixed(0)} ms`);
    console.log(`  total:                                                    ${ms(started, rendered).toFixed(0)} ms`);
    console.log(`  page size: ${(Buffer.byteLength(html) / 1024).toFixed(0)} KB`);
    console.log(`  near-duplicate clusters found: ${data.duplicates.clusters}`);
    console.log(`  peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
