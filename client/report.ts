/**
 * `evol report`: one self-contained HTML file of a run (finished or running), readable in any browser without a
 * network: every chart is a Vega-Lite specification rendered to inline SVG here, in Node, every style is inline,
 * and a Content-Security-Policy forbids the page any request. `--text` prints the same figures.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildReportData, reportText, type Quantiles, type ReportData } from '../core/report-data';
import type { RowScore } from '../core/scoring';
import type { Lineage } from '../core/lineage';
import { UserError } from '../core/validation';
import { checkRunId } from '../store/object-run-store';
import { defaultDataDir, openRunStore } from '../store/location';
import { isS3Url, writeOutput } from './locations';
import type { RunStore } from '../store/types';
import { loadBenchmarks } from './benchmarks';
import { stderr } from './format';
import { plural } from '../core/plural';

export interface ReportCommandOptions {
  out?: string;
  text?: boolean;
  lineages: number;
  dedupThreshold?: number;
  decontaminate?: string[];
  benchmarkField?: string;
}

// Vega and Vega-Lite are ES modules: `import()` kept as written, since TypeScript would turn it into `require()`.
const importModule = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

type VegaLiteSpec = Record<string, unknown>;

/** The parts of Vega and Vega-Lite used here (both are ES modules that this CommonJS build cannot type-import). */
interface VegaLiteModule {
  compile(spec: VegaLiteSpec): { spec: unknown };
}
interface VegaModule {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, options: { renderer: 'none' }) => { toSVG(): Promise<string>; finalize(): void };
}

/** Renders Vega-Lite specifications to SVG text, headless. */
export async function svgRenderer(): Promise<(spec: VegaLiteSpec) => Promise<string>> {
  const vega = await importModule<VegaModule>('vega');
  const vl = await importModule<VegaLiteModule>('vega-lite');
  return async (spec) => {
    const compiled = vl.compile({
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: 520,
      height: 240,
      config: { font: 'sans-serif', view: { stroke: null } },
      ...spec,
    }).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
    try {
      return await view.toSVG();
    } finally {
      view.finalize();
    }
  };
}

const OUTCOME_COLORS = { passed: '#2e7d32' };

function boxplot(rows: Array<{ round: number } & Quantiles>, title: string): VegaLiteSpec {
  const x = { field: 'round', type: 'ordinal', title: 'round (0: seeds)' };
  return {
    title,
    data: { values: rows },
    layer: [
      {
        mark: 'rule',
        encoding: { x, y: { field: 'min', type: 'quantitative', title: 'words' }, y2: { field: 'max' } },
      },
      {
        mark: { type: 'bar', size: 24, color: '#90caf9' },
        encoding: { x, y: { field: 'q1', type: 'quantitative' }, y2: { field: 'q3' } },
      },
      {
        mark: { type: 'tick', color: '#0d47a1', size: 24, thickness: 2 },
        encoding: { x, y: { field: 'median', type: 'quantitative' } },
      },
    ],
  };
}

/** The Vega-Lite specifications of the report's charts, by section. */
export function chartSpecs(data: ReportData): Record<string, VegaLiteSpec> {
  const funnel = data.funnel.flatMap((f) => [
    { round: f.round, outcome: 'passed', count: f.passed },
    ...Object.entries(f.eliminated).map(([rule, count]) => ({ round: f.round, outcome: rule, count })),
  ]);
  const operations = data.operations.flatMap((o) => [
    { operation: o.operation, outcome: 'passed', count: o.passed },
    { operation: o.operation, outcome: 'eliminated', count: o.evolved - o.passed },
  ]);
  const scores = data.scores.flatMap((s) => [
    { round: s.round, measure: 'difficulty', mean: s.difficulty.mean, n: s.difficulty.n },
    { round: s.round, measure: 'complexity', mean: s.complexity.mean, n: s.complexity.n },
  ]);
  const specs: Record<string, VegaLiteSpec> = {
    funnel: {
      title: 'Evolved, passed and eliminated per round',
      data: { values: funnel },
      mark: 'bar',
      encoding: {
        x: { field: 'round', type: 'ordinal' },
        y: { field: 'count', type: 'quantitative', stack: true, title: 'instructions' },
        color: {
          field: 'outcome',
          type: 'nominal',
          scale: {
            domain: ['passed', ...new Set(funnel.map((f) => f.outcome).filter((o) => o !== 'passed'))],
            range: [
              OUTCOME_COLORS.passed,
              '#e57373',
              '#ffb74d',
              '#ba68c8',
              '#4fc3f7',
              '#a1887f',
              '#f06292',
              '#90a4ae',
              '#dce775',
              '#7986cb',
              '#4db6ac',
            ],
          },
        },
      },
    },
    operations: {
      title: 'Operations: evolved and passed',
      data: { values: operations },
      mark: 'bar',
      encoding: {
        y: { field: 'operation', type: 'nominal', sort: '-x' },
        x: { field: 'count', type: 'quantitative', stack: true, title: 'rounds' },
        color: {
          field: 'outcome',
          type: 'nominal',
          scale: { domain: ['passed', 'eliminated'], range: [OUTCOME_COLORS.passed, '#e57373'] },
        },
      },
    },
    instructionWords: boxplot(data.instructionWords, 'Instruction length (words) per round'),
    responseWords: boxplot(data.responseWords, 'Response length (words) per round'),
    tokens: {
      title: 'Tokens per round and role (round 0: answering the seeds)',
      data: { values: data.spend },
      mark: 'bar',
      encoding: {
        x: { field: 'round', type: 'ordinal' },
        y: { field: 'tokens', type: 'quantitative', stack: true },
        color: { field: 'role', type: 'nominal' },
      },
    },
  };
  if (scores.length && scores.some((s) => s.n > 0)) {
    specs.difficulty = {
      title: 'Mean difficulty and complexity per round (1-10; round 0: seeds)',
      data: { values: scores.filter((s) => s.n > 0) },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'round', type: 'ordinal' },
        y: { field: 'mean', type: 'quantitative', scale: { domain: [1, 10] }, title: 'mean rating' },
        color: { field: 'measure', type: 'nominal' },
      },
    };
  }
  if (data.spend.some((s) => s.costUsd > 0)) {
    specs.cost = {
      title: 'Cost (USD) per round and role',
      data: { values: data.spend },
      mark: 'bar',
      encoding: {
        x: { field: 'round', type: 'ordinal' },
        y: { field: 'costUsd', type: 'quantitative', stack: true, title: 'USD' },
        color: { field: 'role', type: 'nominal' },
      },
    };
  }
  return specs;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function table(headers: string[], rows: Array<Array<string | number>>): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${escape(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escape(String(c))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}td,th{border:1px solid #ddd;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f5f5f5}.chart{margin:.8rem 0}.note{color:#666;font-size:.9rem}
.lineage td{max-width:420px;white-space:pre-wrap}.passed{color:#2e7d32}.eliminated{color:#c62828}
details{margin:.6rem 0}summary{cursor:pointer;font-weight:600}`;

/** `rule n, rule n` or `-`. */
function byRule(eliminated: Record<string, number>): string {
  const parts = Object.entries(eliminated).map(([rule, n]) => `${rule} ${n}`);
  return parts.join(', ') || '-';
}

function passRate(passed: number, evolved: number): string {
  return evolved ? `${Math.round((100 * passed) / evolved)}%` : '-';
}

/** The whole page: figures as inline SVG charts and tables, nothing fetched. */
export async function renderReportHtml(
  data: ReportData,
  render: (spec: VegaLiteSpec) => Promise<string>,
): Promise<string> {
  const specs = chartSpecs(data);
  const svg: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) svg[name] = await render(spec);
  const chart = (name: string) => (svg[name] ? `<div class="chart" data-chart="${name}">${svg[name]}</div>` : '');
  const q = (x: Quantiles) => `${x.median.toFixed(0)} (${x.q1.toFixed(0)}-${x.q3.toFixed(0)})`;
  const sections = [
    `<h1>EvolForge run ${escape(data.runId)}</h1>`,
    `<p>${data.records} of ${plural(data.seeds, 'seed')} recorded (${data.completed} completed, ${data.failed} failed), ${plural(data.rounds, 'round')}. Generated ${escape(new Date().toISOString())}.</p>`,
    '<h2>Funnel</h2>',
    chart('funnel'),
    table(
      ['round', 'evolved', 'passed', 'eliminated by rule or gate'],
      data.funnel.map((f) => [f.round, f.evolved, f.passed, byRule(f.eliminated)]),
    ),
    '<h2>Operations</h2>',
    chart('operations'),
    table(
      ['operation', 'evolved', 'passed', 'pass rate'],
      data.operations.map((o) => [o.operation, o.evolved, o.passed, passRate(o.passed, o.evolved)]),
    ),
    '<h2>Lengths</h2>',
    chart('instructionWords'),
    chart('responseWords'),
    table(
      ['round', 'instruction words: median (IQR)', 'response words: median (IQR)'],
      data.instructionWords.map((w) => {
        const response = data.responseWords.find((r) => r.round === w.round);
        return [w.round, q(w), response ? q(response) : '-'];
      }),
    ),
    '<h2>Difficulty and complexity</h2>',
    svg.difficulty
      ? chart('difficulty')
      : `<p class="note">Not scored yet: <code>evol score ${escape(data.runId)}</code> rates each round's instructions.</p>`,
    data.scores.length
      ? table(
          ['round', 'difficulty (mean)', 'complexity (mean)', 'rated', 'without a usable rating'],
          data.scores.map((s) => [
            s.round,
            s.difficulty.n ? s.difficulty.mean.toFixed(2) : '-',
            s.complexity.n ? s.complexity.mean.toFixed(2) : '-',
            s.difficulty.n,
            s.unrated,
          ]),
        )
      : '',
    '<h2>Tokens and cost</h2>',
    chart('tokens'),
    chart('cost') || '<p class="note">No cost: the run has no prices for its models (evol run --prices).</p>',
    table(
      ['round', 'role', 'tokens', 'cost (USD)'],
      data.spend.map((s) => [s.round, s.role, s.tokens, s.costUsd.toFixed(4)]),
    ),
    '<h2>Near-duplicates</h2>',
    `<p>${plural(data.duplicates.clusters, 'cluster')} holding ${plural(data.duplicates.rowsInClusters, 'row')} (MinHash, estimated Jaccard similarity of word 3-grams at least ${data.duplicates.threshold}). <code>evol export --dedup</code> keeps one row of each.</p>`,
    ...data.duplicates.examples.map(
      (cluster, i) =>
        `<details><summary>cluster ${i + 1}</summary><ul>${cluster.map((r) => `<li>${escape(r)}</li>`).join('')}</ul></details>`,
    ),
    '<h2>Contamination</h2>',
    data.contamination
      ? `<p>${plural(data.contamination.hits, 'row')} ${data.contamination.hits === 1 ? 'shares' : 'share'} a run of words with a benchmark prompt (${data.contamination.benchmarkNgrams} benchmark n-grams). <code>evol export --decontaminate</code> drops them.</p>${table(
          ['row', 'benchmark prompt', 'shared words'],
          data.contamination.examples.map((h) => [h.rowId, h.source, h.ngram]),
        )}`
      : `<p class="note">No benchmark given: <code>evol report ${escape(data.runId)} --decontaminate FILE</code> checks the rows against one.</p>`,
    '<h2>Lineages</h2>',
    ...data.lineages.map(
      (l) =>
        `<details class="lineage"><summary>seed ${escape(l.seedId)}</summary><p>${escape(l.seed)}</p>${`<table><thead><tr><th>round</th><th>operation</th><th>instruction</th><th>verdict</th><th>response</th></tr></thead><tbody>${l.steps
          .map(
            (s) =>
              `<tr><td>${s.round}</td><td>${escape(s.operation)}</td><td>${escape(s.instruction)}</td><td class="${s.verdict === 'passed' ? 'passed' : 'eliminated'}">${escape(s.verdict)}</td><td>${escape(s.response)}</td></tr>`,
          )
          .join('')}</tbody></table>`}</details>`,
    ),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EvolForge run ${escape(data.runId)}</title><style>${STYLE}</style></head>
<body>${sections.join('\n')}</body></html>
`;
}

/** Reads a run's records and scores from the store and builds its figures. */
export async function reportDataOf(
  store: RunStore,
  runId: string,
  options: Omit<ReportCommandOptions, 'out' | 'text'>,
): Promise<ReportData> {
  if (!(await store.runExists(runId)))
    throw new UserError(`no run "${runId}" in ${store.location}: \`evol runs\` lists them`);
  const meta = await store.readMeta(runId);
  const records: Lineage[] = [];
  for await (const record of store.records(runId)) records.push(record);
  const scores: RowScore[] = [];
  for await (const score of store.scores(runId)) scores.push(score);
  const benchmarks = options.decontaminate?.length
    ? await loadBenchmarks(options.decontaminate, { field: options.benchmarkField, log: stderr })
    : undefined;
  return buildReportData(runId, records, scores, {
    seeds: meta.seedCount,
    rounds: (meta.config as { rounds?: number }).rounds ?? 0,
    lineageSample: options.lineages,
    ...(options.dedupThreshold !== undefined ? { duplicateThreshold: options.dedupThreshold } : {}),
    ...(benchmarks ? { benchmarks } : {}),
  });
}

/**
 * Where a report goes without --out: beside the run in a bucket (everything a run writes lives in its store), else
 * `reports/<run>.html` in the data dir.
 */
export function defaultReportLocation(storeLocation: string, runId: string): string {
  return isS3Url(storeLocation)
    ? `${storeLocation}/${runId}/report.html`
    : path.join(defaultDataDir(), 'reports', `${runId}.html`);
}

export async function runReport(runId: string, options: ReportCommandOptions): Promise<string | undefined> {
  checkRunId(runId);
  const store = openRunStore();
  const data = await reportDataOf(store, runId, options);
  if (options.text) {
    process.stdout.write(`${reportText(data).join('\n')}\n`);
    return undefined;
  }
  const html = await renderReportHtml(data, await svgRenderer());
  const out = await writeOutput(
    options.out ?? defaultReportLocation(store.location, runId),
    async (file) => {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      const temp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(temp, html);
      fs.renameSync(temp, file);
    },
    'text/html; charset=utf-8',
  );
  stderr(`Report of run ${runId} (${plural(data.records, 'record')}, ${(html.length / 1024).toFixed(0)} KB): ${out}`);
  return out;
}
