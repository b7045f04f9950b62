/**
 * A run as the run store keeps it: its normalized seeds and its meta, whose settings are a dataset run's or an
 * Auto Evol-Instruct learning run's (told apart by `kind`). Settings are parsed once, where they are read from the
 * store, so every layer above gets them typed and checked.
 */
import { z } from 'zod';
import { AutoRunSettingsSchema, type AutoRunSettings } from './auto-evol';
import { DatasetRunSettingsSchema, type DatasetRunSettings } from './settings-schemas';
import { UserError, describeIssues } from './validation';

/** One normalized seed instruction. */
export interface SeedRecord {
  /** Unique within the run: the row's own id if it has one, else `line-<n>`. */
  id: string;
  /** The instruction, with its input appended when the source row has one. */
  text: string;
  /** The source row's answer, if any (exported with --include-seeds). */
  output?: string;
  source: { file: string; line: number };
}

/** A run's settings: what `evol run` or `evol auto` resolved for it (endpoints without keys, method, budget ...). */
export const RunSettingsSchema = z.preprocess(
  readableFromRelease010,
  z.discriminatedUnion('kind', [DatasetRunSettingsSchema, AutoRunSettingsSchema]),
);

/**
 * Settings written by 0.1.0 read as this release writes them, so that its runs can still be exported and reported
 * (their workflows are refused: core/release.ts). Its dataset runs may have no kind, and both kinds an idScheme, which
 * this release does not use. A row in docs/versioning.md says when this goes.
 */
function readableFromRelease010(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object') return raw;
  const { idScheme: _idScheme, ...settings } = raw as Record<string, unknown>;
  return 'kind' in settings ? settings : { ...settings, kind: 'dataset' };
}
export type RunSettings = DatasetRunSettings | AutoRunSettings;

/**
 * What `evol run` estimated the run would spend, before its first call (core/estimate.ts): its tokens and cost as
 * expected, and if every answer were as long as maxTokens allows; the wall time as expected.
 */
export const RunEstimateSchema = z
  .object({
    calls: z.number().int().nonnegative(),
    promptTokens: z.number().int().nonnegative(),
    completionTokens: z.number().int().nonnegative(),
    totalTokens: z.number().int().nonnegative(),
    costUsd: z.number().nonnegative(),
    upperBound: z.object({ totalTokens: z.number().int().nonnegative(), costUsd: z.number().nonnegative() }).strict(),
    wallSeconds: z.number().nonnegative(),
  })
  .strict();
export type RunEstimateSummary = z.infer<typeof RunEstimateSchema>;

/** What a run was created with: no secrets. */
export interface RunMeta {
  runId: string;
  createdAt: string;
  inputFile: string;
  seedCount: number;
  /** Rows skipped as invalid, and duplicates folded into an earlier seed. */
  invalidRows: number;
  duplicateRows: number;
  config: RunSettings;
  /** The EvolForge release that created it; none for a run created before worker versioning (core/release.ts). */
  release?: string;
  /** What it was estimated to spend when it was created; none for runs created before estimates. */
  estimate?: RunEstimateSummary;
}

const RunMetaSchema = z.object({
  runId: z.string().min(1),
  createdAt: z.string(),
  inputFile: z.string(),
  seedCount: z.number().int().nonnegative(),
  invalidRows: z.number().int().nonnegative(),
  duplicateRows: z.number().int().nonnegative(),
  config: RunSettingsSchema,
  release: z.string().min(1).optional(),
  estimate: RunEstimateSchema.optional(),
});

/** Checks a run's meta as read from `where` (a file); a clear error names the file and the field. */
export function parseRunMeta(raw: unknown, where: string): RunMeta {
  const parsed = RunMetaSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UserError(
      `${where}: ${describeIssues(parsed.error.issues)}. The run's meta was changed or written by another version of EvolForge; restore it, or start a new run`,
    );
  }
  return parsed.data;
}

/** The settings of a dataset run; a clear error for a learning run. */
export function datasetSettingsOf(meta: RunMeta): DatasetRunSettings {
  if (meta.config.kind !== 'dataset') {
    throw new UserError(
      `run "${meta.runId}" is an Auto Evol-Instruct learning run, not a dataset run: \`evol auto status ${meta.runId}\` shows it`,
    );
  }
  return meta.config;
}

/** The settings of a learning run; a clear error for a dataset run. */
export function autoSettingsOf(meta: RunMeta): AutoRunSettings {
  if (meta.config.kind !== 'auto-evol') {
    throw new UserError(
      `run "${meta.runId}" is a dataset run, not an Auto Evol-Instruct run: \`evol status ${meta.runId}\` shows it`,
    );
  }
  return meta.config;
}
