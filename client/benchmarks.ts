/** Benchmark prompts for decontamination, read like seed files (JSONL, JSON, CSV, Parquet; any field choice). */
import { BenchmarkIndex, DEFAULT_CONTAMINATION_NGRAM, type BenchmarkPrompt } from '../core/contamination';
import { readSeedFile } from './input-file';
import { plural } from '../core/plural';

/** Every prompt of every file, indexed by its long word runs; progress lines say what was read. */
export async function loadBenchmarks(
  files: readonly string[],
  options: { field?: string; n?: number; log?: (line: string) => void } = {},
): Promise<BenchmarkIndex> {
  const prompts: BenchmarkPrompt[] = [];
  for (const file of files) {
    // `--benchmark-field` names the prompt's field; otherwise the row shapes of seed files are recognised.
    const report = await readSeedFile(file, options.field ? { fields: { instruction: options.field } } : {});
    for (const seed of report.seeds) prompts.push({ source: `${file}:${seed.source.line}`, text: seed.text });
    options.log?.(
      `${plural(report.seeds.length, 'benchmark prompt')} from ${file}${report.invalid.length ? ` (${plural(report.invalid.length, 'unreadable row')} skipped)` : ''}.`,
    );
  }
  return new BenchmarkIndex(prompts, options.n ?? DEFAULT_CONTAMINATION_NGRAM);
}
