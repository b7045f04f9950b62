/** Human-readable renderings for the terminal: lines on stderr, what a seed file held, lineage. */
import type { Lineage, LineageStep } from '../core/lineage';
import { formatProblem, type InputReport } from './input-file';
import { plural } from '../core/plural';

/** Progress and summaries go to stderr; stdout is kept for what a command outputs (an export, JSON). */
export const stderr = (line: string) => process.stderr.write(`${line}\n`);

const MAX_PROBLEMS_SHOWN = 20;

/** What reading a seed file found: the first invalid rows, duplicates folded, and the count of what is kept. */
export function printInputReport(file: string, report: InputReport, kept: 'seed' | 'instruction'): void {
  for (const problem of report.invalid.slice(0, MAX_PROBLEMS_SHOWN)) stderr(`skipped ${formatProblem(problem)}`);
  if (report.invalid.length > MAX_PROBLEMS_SHOWN) {
    stderr(`... and ${plural(report.invalid.length - MAX_PROBLEMS_SHOWN, 'more invalid row')}`);
  }
  if (report.duplicates.length) {
    const first = report.duplicates[0];
    stderr(
      `${plural(report.duplicates.length, 'duplicate row')} kept once (e.g. line ${first.line} repeats line ${first.duplicateOfLine}).`,
    );
  }
  stderr(
    `${plural(report.seeds.length, kept)} from ${file} (${plural(report.totalRows, 'row')}, ${report.invalid.length} invalid).`,
  );
  if (report.unusedFields.length) stderr(unusedFieldsNotice(report));
}

const UNUSED_FIELDS_SHOWN = 8;

/** Once per file: text the rows hold that no seed has, and how to take such a field in. */
export function unusedFieldsNotice(report: InputReport): string {
  const { unusedFields, totalRows } = report;
  const shown = unusedFields
    .slice(0, UNUSED_FIELDS_SHOWN)
    .map(({ field, rows }) => `${JSON.stringify(clip(field, 30))} (${rows} of ${totalRows} rows)`);
  const more = unusedFields.length > shown.length ? ` and ${unusedFields.length - shown.length} more` : '';
  const [only] = unusedFields;
  const flag =
    unusedFields.length === 1
      ? `If the instructions refer to it, --input-field ${shellWord(only.field)} appends it`
      : 'If the instructions refer to one of them, --input-field NAME appends it';
  const fields = `field${unusedFields.length > 1 ? 's' : ''} ${shown.join(', ')}${more}`;
  return `Not used: text in ${fields}. ${flag} to each instruction as its input.`;
}

function shellWord(text: string): string {
  return /^[\w.@%+=:,/-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function indent(text: string, prefix: string): string {
  return text
    .trim()
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

function outcome(step: LineageStep): string {
  return step.verdict.passed ? 'passed' : `eliminated by ${step.verdict.rule}: ${step.verdict.evidence}`;
}

export function formatLineage(lineage: Lineage, options: { responseChars?: number } = {}): string {
  const max = options.responseChars ?? 300;
  const lines = [`Seed (${lineage.instructionId}):`, indent(lineage.seed, '  '), ''];
  for (const step of lineage.steps) {
    lines.push(`Round ${step.round} · ${step.operation} · ${outcome(step)}`);
    if (step.instruction) lines.push(indent(step.instruction, '  '));
    if (step.response) lines.push(`  ↳ response: ${clip(step.response, max)}`);
    lines.push('');
  }
  const passed = lineage.steps.filter((s) => s.verdict.passed).length;
  lines.push(
    `Final instruction (${passed} of ${plural(lineage.steps.length, 'round')} passed):`,
    indent(lineage.final, '  '),
  );
  lines.push(
    `Tokens: ${lineage.usage.totalTokens} (prompt ${lineage.usage.promptTokens}, completion ${lineage.usage.completionTokens})`,
  );
  return lines.join('\n');
}
