/** Public shapes of the simulated OpenAI-compatible LLM server. */
import { ChatMessage } from '../core/chat';

/** Ways a response can be broken on purpose, beyond plain HTTP error statuses. */
export type SimFault = 'malformed-json' | 'truncated-json' | 'empty-choices' | 'empty-content' | 'reset' | 'hang';

export const SIM_FAULTS: readonly SimFault[] = [
  'malformed-json',
  'truncated-json',
  'empty-choices',
  'empty-content',
  'reset',
  'hang',
];

export type SimRequestKind = 'mutate' | 'respond' | 'judge' | 'score' | 'other';

export const SIM_REQUEST_KINDS: readonly SimRequestKind[] = ['mutate', 'respond', 'judge', 'score', 'other'];

export interface SimRule {
  /** All given conditions must hold. `contains`/`regex` test the concatenated message contents (system + user ...). */
  match?: { contains?: string; regex?: string; model?: string; kind?: SimRequestKind };
  /** How many matching requests this rule answers before it is used up (default: unlimited). */
  times?: number;
  /** At most one of content / status / fault; none means "answer normally" (useful with latencyMs). */
  content?: string;
  /** An HTTP error response; the default body is an OpenAI-style `{error:{message,type,code}}`. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  fault?: SimFault;
  latencyMs?: number;
}

export interface SimRequestRecord {
  seq: number;
  /** sha256 hex of `JSON.stringify({ model, messages })`, messages reduced to `{ role, content }`. */
  key: string;
  kind: SimRequestKind;
  model: string;
  outcome: 'ok' | 'error' | 'fault';
  /** The HTTP status sent, or 0 when the connection was reset or left hanging. */
  status: number;
  operation?: string;
  receivedAt: number;
  /** How long it waited for a free slot (with `maxInFlight`), in ms. */
  waitedMs?: number;
  /** Its client went away before its answer (a timeout, say), while it waited for a slot or was being answered. */
  abandoned?: boolean;
  /** Only with `keepMessages: true`. */
  messages?: ChatMessage[];
  /** The batch it was a row of, when it came through the Batch API. */
  batchId?: string;
}

/**
 * Recognises one kind of request and answers it. The server tries its recognisers in order and
 * the first whose `test` passes decides the kind and writes the answer.
 */
export interface SimRecogniser {
  kind: SimRequestKind;
  test(messages: ChatMessage[]): boolean;
  /** The evolving operation a mutate request asks for, when the recogniser can tell. */
  operation?(messages: ChatMessage[]): string | undefined;
  answer(messages: ChatMessage[]): string;
}

export interface SimLlmOptions {
  /** 0 = a random free port (the default). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Delay before every response, default 0. */
  latencyMs?: number;
  rules?: SimRule[];
  /** 0..1: share of unscripted requests that get a random fault, drawn by a PRNG seeded with `faultSeed`. */
  faultRate?: number;
  faultSeed?: number;
  /** Keep full messages in request records; off by default to save memory. */
  keepMessages?: boolean;
  /** Extra recognisers, tried before the built-in ones. */
  recognisers?: SimRecogniser[];
  /** How long a batch of the Batch API takes to finish (default 1000 ms). */
  batchCompletionDelayMs?: number;
  /** OpenAI-style rate limits: over one, a request gets a 429 with `retry-after`; off by default. */
  rateLimits?: SimRateLimits;
  /**
   * Reports `usage.prompt_tokens_details.cached_tokens` for a request whose messages but the last were seen before
   * (same model); off when absent. `minTokens` defaults to OpenAI's 1024, from which counts go in steps of 128.
   */
  promptCache?: { minTokens?: number };
  /**
   * Chat requests answered at once; the others wait in a queue, first come first served, as llama.cpp's server waits
   * for a free slot. A request whose client goes away while it waits is still answered when its turn comes (as
   * llama-cpp-python's server does), and counted in `stats().queue.abandoned`. Absent: every request at once.
   */
  maxInFlight?: number;
  /**
   * Answers what that server says of itself: `llama.cpp`, `GET /props` with `total_slots` (`maxInFlight`, else 1);
   * `ollama`, `GET /api/version`. Absent: nothing (like OpenAI).
   */
  serverKind?: 'llama.cpp' | 'ollama';
}

export interface SimRateLimits {
  /** Requests per minute. */
  rpm?: number;
  /** Tokens (prompt + completion) per minute. */
  tpm?: number;
  /** How many seconds' worth of each limit a bucket holds, default 60 (a full minute's worth). */
  burstSeconds?: number;
}

export interface SimStats {
  total: number;
  /** Requests received whose response has not been closed yet. */
  inFlight: number;
  byKind: Record<SimRequestKind, number>;
  byOutcome: Record<string, number>;
  /** Scripted and random failures by name: a fault name, or `http-<status>`. */
  faultsInjected: Record<string, number>;
  /** Requests refused with a 429 by `rateLimits`, by the limit that refused them. */
  rateLimited: { requests: number; tokens: number };
  /** The most requests in flight at once (waiting for a slot or being answered). */
  peakInFlight: number;
  /** With `maxInFlight`: the requests that waited for a slot, the longest wait, and those whose client went away. */
  queue: { waiting: number; peakWaiting: number; longestWaitMs: number; abandoned: number };
}

export interface SimLlm {
  /** Base URL to hand to the openai client, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  addRule(rule: SimRule): void;
  clearRules(): void;
  requests(): SimRequestRecord[];
  countByKey(): Map<string, number>;
  resetRequests(): void;
  stats(): SimStats;
  /** Replaces the rate limits (full buckets); undefined or `{}` turns them off. */
  setRateLimits(limits?: SimRateLimits): void;
  /** Every batch created through the Batch API, oldest first. */
  batches(): import('./batch-api').SimBatchRecord[];
  /** Scripts a fault for the next batch created (expiry after a share of rows, failed rows, a lost answer). */
  addBatchFault(fault: import('./batch-api').SimBatchFault): void;
  /** Stops listening and destroys open sockets, including hanging ones. */
  close(): Promise<void>;
}
