/** Human-readable renderings of lineage for the terminal. */
import type { Lineage, LineageStep } from '../core/schemas';

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
  lines.push(`Final instruction (${passed} of ${lineage.steps.length} rounds passed):`, indent(lineage.final, '  '));
  lines.push(
    `Tokens: ${lineage.usage.totalTokens} (prompt ${lineage.usage.promptTokens}, completion ${lineage.usage.completionTokens})`,
  );
  return lines.join('\n');
}
