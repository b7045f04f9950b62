/**
 * Batch API mode (`evol run --batch`, `llm.<role>.batch: true`): the settings, and the pure parts of a run's batcher
 * workflow (workflows/batcher.ts): which queued calls make the next batch, how long to wait between polls, and what
 * one line of a batch's output or error file says. No I/O here: the activities in activities/batch.ts talk to the
 * provider and the run store.
 */
import type { ModelPrice } from './pricing';
import type { BatchSettings } from './settings-schemas';
import type { LlmRole } from './endpoints';

/** The metadata key a batch is created with; a retried submission finds its batch by it instead of creating another. */
export const BATCH_KEY_METADATA = 'evol_batch_key';

export type { BatchSettings } from './settings-schemas';
export type ResolvedBatchSettings = Required<BatchSettings>;

export const DEFAULT_BATCH_SETTINGS: ResolvedBatchSettings = {
  maxRequests: 1000,
  maxBytes: 190 * 1024 * 1024,
  maxWaitMs: 60_000,
  pollInitialMs: 30_000,
  pollMaxMs: 10 * 60_000,
  failedRows: 'next-batch',
  maxRowAttempts: 3,
  idleExitMs: 10 * 60_000,
};

/** For the simulated LLM, which finishes a batch in about a second: short waits, so a demo takes seconds. */
export const SIMULATED_BATCH_SETTINGS: BatchSettings = { maxWaitMs: 1000, pollInitialMs: 500, pollMaxMs: 2000 };

export function resolveBatchSettings(settings: BatchSettings | undefined): ResolvedBatchSettings {
  return { ...DEFAULT_BATCH_SETTINGS, ...settings };
}

/** One call waiting for a batch, as the batcher keeps it: ids and sizes, never the request itself. */
export interface QueuedCall {
  /** The batch row's `custom_id`; the run store holds the request and, once answered, the result under it. */
  customId: string;
  /** The instruction workflow waiting for it. */
  workflowId: string;
  /** Calls of one endpoint (base URL, model, key variable) go in the same batches: one model per batch. */
  group: string;
  /** The role whose endpoint the batch goes to, and its model (for the price). */
  role: LlmRole;
  model?: string;
  /** Size of its line in the input file. */
  bytes: number;
  /** Tokens it may use at most (prompt estimate plus max_tokens), for the cost estimate before a batch is sent. */
  maxTokens: number;
  /** Batches it has failed in so far. */
  failures: number;
  /** Workflow time it was queued. */
  queuedAtMs: number;
}

export type BatchPhase = 'submitting' | 'waiting' | 'polling' | 'cancelling' | 'collecting';

/** A batch the batcher made: submitted, or being submitted (no id yet). */
export interface OpenBatch {
  /** Made by the workflow; the batch is created with it in its metadata (BATCH_KEY_METADATA). */
  key: string;
  group: string;
  role: LlmRole;
  calls: QueuedCall[];
  bytes: number;
  cutAtMs: number;
  batchId?: string;
  /** The provider's status and counts at the last poll. */
  status?: string;
  counts?: BatchCounts;
  polls: number;
  phase: BatchPhase;
  /** Cancelled at the provider (pause or cancel); its unfinished rows go back to the queue. */
  cancelSent?: boolean;
}

export interface BatchCounts {
  total: number;
  completed: number;
  failed: number;
}

/** What `evol status` shows of one open batch. */
export interface OpenBatchStatus {
  key: string;
  batchId?: string;
  /** The roles whose calls it holds (roles that share an endpoint share batches). */
  roles: LlmRole[];
  status: string;
  requests: number;
  counts?: BatchCounts;
  ageMs: number;
}

export interface BatcherStatus {
  queued: number;
  paused: boolean;
  open: OpenBatchStatus[];
  /** Batches submitted by this batcher since its run began (across continue-as-new). */
  submitted: number;
}

/** The provider's batch states after which nothing more happens to a batch. */
export const TERMINAL_BATCH_STATES = ['completed', 'expired', 'cancelled', 'failed'] as const;

export function isTerminal(status: string | undefined): boolean {
  return (TERMINAL_BATCH_STATES as readonly string[]).includes(status ?? '');
}

/**
 * The groups whose queued calls make a batch now: one that is full (by requests or bytes), or whose oldest call has
 * waited `maxWaitMs`.
 */
export function readyGroups(queue: readonly QueuedCall[], settings: ResolvedBatchSettings, nowMs: number): string[] {
  const byGroup = new Map<string, { n: number; bytes: number; oldest: number }>();
  for (const call of queue) {
    const g = byGroup.get(call.group) ?? { n: 0, bytes: 0, oldest: call.queuedAtMs };
    g.n++;
    g.bytes += call.bytes;
    g.oldest = Math.min(g.oldest, call.queuedAtMs);
    byGroup.set(call.group, g);
  }
  return [...byGroup]
    .filter(
      ([, g]) => g.n >= settings.maxRequests || g.bytes >= settings.maxBytes || nowMs - g.oldest >= settings.maxWaitMs,
    )
    .map(([group]) => group);
}

/** Milliseconds until the next group is due by its wait (undefined with nothing queued). */
export function nextDueInMs(
  queue: readonly QueuedCall[],
  settings: ResolvedBatchSettings,
  nowMs: number,
): number | undefined {
  if (!queue.length) return undefined;
  const oldest = Math.min(...queue.map((c) => c.queuedAtMs));
  return Math.max(0, oldest + settings.maxWaitMs - nowMs);
}

/**
 * Takes the next batch of `group` out of `queue`, oldest first: at most `maxRequests` calls and `maxBytes` bytes (a
 * single call larger than that still goes, alone, for the provider to refuse it by row).
 */
export function takeBatch(
  queue: QueuedCall[],
  group: string,
  settings: ResolvedBatchSettings,
): { calls: QueuedCall[]; bytes: number } {
  const calls: QueuedCall[] = [];
  let bytes = 0;
  for (let i = 0; i < queue.length && calls.length < settings.maxRequests;) {
    const call = queue[i];
    if (call.group !== group) {
      i++;
      continue;
    }
    if (calls.length > 0 && bytes + call.bytes > settings.maxBytes) break;
    calls.push(call);
    bytes += call.bytes;
    queue.splice(i, 1);
  }
  return { calls, bytes };
}

/** The wait before poll number `polls` (0 first): grows by half each time, up to `pollMaxMs`. */
export function pollDelayMs(polls: number, settings: ResolvedBatchSettings): number {
  return Math.min(settings.pollMaxMs, Math.round(settings.pollInitialMs * 1.5 ** polls));
}

/** One line of a batch's output or error file, read. */
export type BatchRowOutcome =
  | { customId: string; ok: true; body: ChatCompletionBody }
  | { customId: string; ok: false; reason: string; retryable: boolean };

/** What a row's answer holds that we read: the chat completion's choices and usage. */
export interface ChatCompletionBody {
  model?: string;
  choices?: Array<{ message?: { content?: string | null } }>;
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    total_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number };
  };
}

/** Errors that say the row was never done (the batch ran out of time or was cancelled): not the row's fault. */
const UNFINISHED_CODES = ['batch_expired', 'batch_cancelled'];

/** Reads one JSONL line of a batch's output or error file; undefined for a line that names no row. */
export function parseBatchRow(line: string): BatchRowOutcome | undefined {
  let row: {
    custom_id?: unknown;
    response?: { status_code?: number; body?: unknown } | null;
    error?: { code?: string; message?: string } | null;
  };
  try {
    row = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof row?.custom_id !== 'string') return undefined;
  const customId = row.custom_id;
  const status = row.response?.status_code;
  if (status === 200 && row.response?.body && typeof row.response.body === 'object') {
    return { customId, ok: true, body: row.response.body as ChatCompletionBody };
  }
  const code = row.error?.code ?? (row.response?.body as { error?: { code?: string } } | undefined)?.error?.code;
  const message =
    row.error?.message ?? (row.response?.body as { error?: { message?: string } } | undefined)?.error?.message;
  const reason = [status ? `HTTP ${status}` : undefined, code, message].filter(Boolean).join(': ') || 'no answer';
  return { customId, ok: false, reason, retryable: !UNFINISHED_CODES.includes(code ?? '') };
}

/** The answer's text and tokens, as the online call reports them. */
export function completionOf(body: ChatCompletionBody): {
  text: string;
  model?: string;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; cachedPromptTokens?: number };
} {
  const usage = body.usage;
  const prompt = usage?.prompt_tokens ?? 0;
  const completion = usage?.completion_tokens ?? 0;
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    text: body.choices?.[0]?.message?.content ?? '',
    ...(body.model ? { model: body.model } : {}),
    usage: {
      promptTokens: prompt,
      completionTokens: completion,
      totalTokens: usage?.total_tokens ?? prompt + completion,
      ...(cached > 0 ? { cachedPromptTokens: cached } : {}),
    },
  };
}

/** Whether any role of an LLM config sends its calls through the Batch API. */
export function usesBatch(llm: Partial<Record<string, { batch?: boolean }>>): boolean {
  return Object.values(llm).some((e) => e?.batch === true);
}

/** One call's Batch API row as the run store keeps it until its batch is sent: who waits for it, and the line. */
export interface BatchRequestRecord {
  customId: string;
  /** The instruction workflow that waits for the answer. */
  workflowId: string;
  role: LlmRole;
  /** The input file's line: `{custom_id, method, url, body}`. */
  line: string;
}

/** One row's answer, kept by the run store under its custom_id when its batch is collected. */
export interface BatchResultRecord {
  customId: string;
  batchId: string;
  body: ChatCompletionBody;
}

/** What a run's batcher workflow starts with, and carries across continue-as-new. */
export interface BatcherInput {
  runId: string;
  settings: BatchSettings;
  /** The run's prices, for the estimate of a batch's cost before it is sent. */
  prices?: Record<string, ModelPrice>;
  state?: BatcherState;
}

export interface BatcherState {
  queue: QueuedCall[];
  open: OpenBatch[];
  paused: boolean;
  submitted: number;
  continuedAsNew: number;
}
