/**
 * The one-line summaries and short details Temporal UI shows for EvolForge's workflows and activities.
 * Ids and configuration only: a summary is stored in the history of whoever starts the workflow, and a
 * dataset run's history must never hold instruction text.
 */
import type { Operation } from './operations';
import type { LlmConfig } from './endpoints';
import { plural } from './plural';

const EXCERPT_CHARS = 100;

export function instructionSummary(runId: string, instructionId: string, rounds: number): string {
  return `run ${runId} · seed ${instructionId} · ${plural(rounds, 'round')}`;
}

function modelsLine(llm: LlmConfig): string {
  return `models: evolver ${llm.evolver.model}, responder ${llm.responder.model}, judge ${llm.judge.model}`;
}

function operationsLine(operations: ReadonlyArray<Pick<Operation, 'id'>> | undefined): string {
  return `operations: ${operations?.length ? operations.map((op) => op.id).join(', ') : 'general set'}`;
}

export function instructionDetails(options: {
  seed: number;
  llm: LlmConfig;
  operations?: ReadonlyArray<Pick<Operation, 'id'>>;
  parentWorkflowId?: string;
  /** Shown cut to its first 100 characters; leave it out wherever the starter's history must stay free of text. */
  instruction?: string;
}): string {
  return [
    ...(options.parentWorkflowId ? [`dataset workflow: ${options.parentWorkflowId}`] : []),
    `plan seed: ${options.seed}`,
    operationsLine(options.operations),
    modelsLine(options.llm),
    ...(options.instruction !== undefined ? [`instruction: ${excerpt(options.instruction)}`] : []),
  ].join('\n');
}

export function datasetSummary(runId: string, totalSeeds: number, rounds: number, concurrency: number): string {
  return `run ${runId} · ${plural(totalSeeds, 'seed')} · ${plural(rounds, 'round')} · ${concurrency} at once`;
}

export function datasetDetails(options: {
  method: string;
  seed: number;
  llm: LlmConfig;
  operations: ReadonlyArray<Pick<Operation, 'id'>>;
  budget: { maxTokens?: number; maxCost?: number };
}): string {
  const { maxTokens, maxCost } = options.budget;
  return [
    `method: ${options.method} · plan seed: ${options.seed}`,
    operationsLine(options.operations),
    modelsLine(options.llm),
    `budget: ${maxTokens !== undefined ? plural(maxTokens, 'token') : 'no token limit'}, ${maxCost !== undefined ? `$${maxCost}` : 'no cost limit'}`,
  ].join('\n');
}

/** The summary of one LLM step, e.g. `round 2 · add-constraints`. */
export function stepSummary(round: number, operationId: string): string {
  return `round ${round} · ${operationId}`;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

/** Seconds as a person reads them: `42s`, `3m05s`, `2h07m`; `?` when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
