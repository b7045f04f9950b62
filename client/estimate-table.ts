/** The estimate of a run for people: the table `evol estimate` prints, and the lines `evol run` and `evol status` add. */
import { LLM_ROLES } from '../core/endpoints';
import type { RunEstimate } from '../core/estimate';
import type { Spend } from '../core/dataset';
import type { RunEstimateSummary } from '../core/run';
import { formatDuration } from '../core/summaries';
import type { Usage } from '../core/usage';

const n = (value: number) => Math.round(value).toLocaleString('en-US');
const usd = (value: number) => `$${value.toFixed(4)}`;

/** Rows of cells, each column padded to its widest cell (numbers to the right). */
function columns(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

function usageCells(usage: Usage): string[] {
  return [n(usage.promptTokens), n(usage.completionTokens), n(usage.totalTokens)];
}

function wallText(estimate: RunEstimate): string {
  const { wall } = estimate;
  const upper = wall.upperSeconds !== undefined ? `, at most ${formatDuration(wall.upperSeconds)}` : '';
  return `about ${formatDuration(wall.seconds)}${upper} (bound by ${wall.boundBy})`;
}

/** The table of `evol estimate`: calls, tokens and cost per role and per round, the wall time, the assumptions. */
export function formatEstimate(estimate: RunEstimate, about: { input: string; method: string }): string {
  const roles = LLM_ROLES.map((role) => {
    const r = estimate.byRole[role];
    const model = `${r.model}${r.mode === 'batch' ? ' (batch)' : ''}${r.unpriced ? ' (no price)' : ''}`;
    return [role, model, n(r.calls), ...usageCells(r.usage), usd(r.costUsd)];
  });
  const upper = estimate.upperBound;
  const table = columns([
    ['', 'model', 'calls', 'prompt tokens', 'completion tokens', 'total tokens', 'cost'],
    ...roles,
    ['total', '', n(estimate.calls), ...usageCells(estimate.usage), usd(estimate.costUsd)],
    ['at most', '', n(estimate.calls), ...usageCells(upper.usage), usd(upper.costUsd)],
  ]);
  const rounds = columns([
    ['', 'calls', 'tokens'],
    ...estimate.byRound.map((r) => [
      r.round === 0 ? 'seed answers' : `round ${r.round}`,
      n(r.calls),
      n(r.usage.totalTokens),
    ]),
  ]);
  return [
    `Estimate of a run of ${about.input}: ${estimate.seeds} seeds, ${estimate.rounds} rounds, method ${about.method}; no LLM call made for it.`,
    '',
    ...table.map((line) => `  ${line}`),
    '',
    ...rounds.map((line) => `  ${line}`),
    '',
    `  wall time: ${wallText(estimate)}`,
    '',
    'It assumes:',
    ...estimate.assumptions.map((line) => `  - ${line}`),
  ].join('\n');
}

/** One line for `evol run` as it creates a run. */
export function estimateLine(estimate: RunEstimate): string {
  return (
    `Estimated: ${estimate.usage.totalTokens} tokens, ${usd(estimate.costUsd)} (at most ${estimate.upperBound.usage.totalTokens} tokens, ` +
    `${usd(estimate.upperBound.costUsd)}), about ${formatDuration(estimate.wall.seconds)}; \`evol estimate\` with the same options shows how.`
  );
}

/** `evol status`: the estimate made when the run was created, beside what its calls have spent so far. */
export function estimateBesideSpend(estimate: RunEstimateSummary | undefined, spent: Spend | undefined): string[] {
  if (!estimate) return [];
  const share =
    spent && estimate.totalTokens > 0
      ? ` (${Math.round((100 * spent.usage.totalTokens) / estimate.totalTokens)}% of the estimate)`
      : '';
  const sofar = spent ? `${spent.usage.totalTokens} tokens, ${usd(spent.costUsd)}${share}` : 'nothing';
  return [
    `  estimated: ${estimate.totalTokens} tokens, ${usd(estimate.costUsd)} (at most ${estimate.upperBound.totalTokens} tokens, ${usd(estimate.upperBound.costUsd)}), about ${formatDuration(estimate.wallSeconds)}; spent so far: ${sofar}`,
  ];
}
