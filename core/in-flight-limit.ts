/**
 * How many requests one worker keeps in flight at one LLM endpoint (base URL, model and key variable): pure
 * bookkeeping, fed by the worker's call gate (activities/call-gate.ts) with each request as it goes and comes back.
 *
 * - A server that says how many requests it serves at once is taken at its word: llama.cpp's server (`total_slots` in
 *   `GET /props`), llama-cpp-python's (one at a time, always).
 * - Ollama and LM Studio serve a few at once and queue the rest, and do not say how many: the limit starts at 1 and
 *   grows while the server shows it serves that many at once.
 * - Any other server (OpenAI and the hosted providers, vLLM) has no limit until its answers show a queue.
 *
 * What the answers show, without a word from the server:
 * - **How many it serves at once, at least.** A server that serves several requests at once lets a short request
 *   overtake a long one sent before it; a server that queues serves them in the order they came. A request that
 *   overtook k others proves k + 1 served at once (`proven`: the most any answer proved).
 * - **Whether requests wait in its queue.** Each answer's time per token (a fixed overhead counted as tokens), over the
 *   quickest recent answer of the same role: most of the last answers three times slower than that, with more than
 *   twice as many in flight as the server proved it serves, is a queue. The limit falls to what it proved plus one
 *   (one request waits in its queue, so the server never idles between two).
 * - **A timeout** with at least twice as many in flight as it proved halves the limit (not below what it proved), and
 *   the limit never grows back to where it timed out.
 * - **Fast answers** (at most half again the quickest) with the limit in use, from a server that proved it serves
 *   the limit at once, raise it by one every `limit` such answers.
 *
 * A hosted provider lets short answers overtake long ones all the time, so what it proved follows what is in flight,
 * and even a slow hour, whose answers all take five times longer, or a timeout, lowers nothing.
 */

export type ServerKind = 'llama.cpp' | 'llama-cpp-python' | 'Ollama' | 'LM Studio';

/** What a server says of itself (activities/server-word.ts asks it). */
export interface ServerWord {
  kind?: ServerKind;
  /** Requests it serves at once, when it says (llama.cpp's `total_slots`); the others wait in its queue. */
  slots?: number;
}

/** Servers that queue what they cannot serve at once without saying how many they serve: the limit starts at 1. */
const QUEUEING_SERVERS: readonly ServerKind[] = ['Ollama', 'LM Studio'];

/** An answer's fixed cost (reading the prompt, the round trip), counted as this many tokens of its answer. */
export const OVERHEAD_TOKENS = 32;
/** Answers of one role kept to find the quickest: its time per token is the measure of an answer that did not wait. */
export const QUICKEST_OF = 32;
/** Answers kept for the evidence of a queue. */
export const EVIDENCE_OF = 8;
/** Most of the last answers at least this many times slower than the quickest: requests wait in a queue. */
export const QUEUE_RATIO = 3;
/** An answer at most this many times slower than the quickest did not wait. */
export const FAST_RATIO = 1.5;

/** A request sent: its place in the order of sending, and how many were in flight with it (itself included). */
export interface SentRequest {
  readonly seq: number;
  readonly inFlight: number;
}

export interface Answer {
  latencyMs: number;
  /** Tokens of the answer (0 when the server does not say). */
  completionTokens: number;
  /** Answers of one kind (a role) are compared with each other. */
  shape: string;
}

/** A change of the limit, said in the worker's log. */
export interface LimitChange {
  from?: number;
  to: number;
  why: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export class InFlightLimit {
  private value?: number;
  /** The server said how many it serves: nothing learned changes that. */
  readonly announced: boolean;
  private seq = 0;
  /** Requests in flight, by their place in the order of sending. */
  private readonly flying = new Set<number>();
  /** Time per token of the recent answers, by shape. */
  private readonly quickest = new Map<string, number[]>();
  /** The recent answers sent with others in flight: how much slower than the quickest, and with how many. */
  private evidence: Array<{ ratio: number; inFlight: number }> = [];
  /** The most served at once that an answer proved (what it overtook, plus one). */
  private proved = 1;
  private credit = 0;
  /** Where a request timed out: the limit stays below. */
  private ceiling = Infinity;

  constructor(word: ServerWord = {}) {
    this.announced = word.slots !== undefined && word.slots >= 1;
    if (this.announced) this.value = word.slots;
    else if (word.kind && QUEUEING_SERVERS.includes(word.kind)) this.value = 1;
  }

  /** At most this many in flight; undefined: no limit. */
  get limit(): number | undefined {
    return this.value;
  }

  get inFlight(): number {
    return this.flying.size;
  }

  /** The most requests the server has been seen to serve at once. */
  get proven(): number {
    return this.proved;
  }

  /** Whether one more may go now. */
  hasRoom(): boolean {
    return this.value === undefined || this.flying.size < this.value;
  }

  /** A request goes out now. */
  send(): SentRequest {
    const seq = ++this.seq;
    this.flying.add(seq);
    return { seq, inFlight: this.flying.size };
  }

  /** Its answer came back. */
  answered(request: SentRequest, answer: Answer): LimitChange | undefined {
    if (!this.flying.delete(request.seq)) return undefined;
    // Requests sent before it and still in flight: it overtook them.
    let overtaken = 0;
    for (const seq of this.flying) if (seq < request.seq) overtaken++;
    this.proved = Math.max(this.proved, overtaken + 1);
    if (this.announced) return undefined;

    const ratio = this.ratioOf(answer);
    if (request.inFlight >= 2)
      this.evidence = [...this.evidence, { ratio, inFlight: request.inFlight }].slice(-EVIDENCE_OF);
    const queued = this.queueSeen();
    if (queued) return queued;
    return this.grow(request, ratio);
  }

  /** It ended without an answer: an error, or its request timed out. */
  failed(request: SentRequest, { timedOut }: { timedOut: boolean }): LimitChange | undefined {
    if (!this.flying.delete(request.seq) || this.announced || !timedOut) return undefined;
    // Near what the server proved it serves at once, a timeout is a slow answer, not a queue.
    if (request.inFlight < 2 * this.proven) return undefined;
    this.ceiling = Math.min(this.ceiling, request.inFlight);
    const to = Math.max(this.proven, Math.floor(Math.min(request.inFlight, this.value ?? Infinity) / 2), 1);
    return this.set(to, `a request timed out with ${request.inFlight} in flight`);
  }

  /** This answer's time per token over the quickest recent answer of its shape (1: as quick as any). */
  private ratioOf(answer: Answer): number {
    const perToken = Math.max(answer.latencyMs, 1) / (Math.max(answer.completionTokens, 0) + OVERHEAD_TOKENS);
    const recent = [...(this.quickest.get(answer.shape) ?? []), perToken].slice(-QUICKEST_OF);
    this.quickest.set(answer.shape, recent);
    return perToken / Math.min(...recent);
  }

  /** Most recent answers much slower than the quickest, with twice as many in flight as the server proved: a queue. */
  private queueSeen(): LimitChange | undefined {
    if (this.evidence.length < EVIDENCE_OF) return undefined;
    const slow = median(this.evidence.map((e) => e.ratio));
    if (slow < QUEUE_RATIO || median(this.evidence.map((e) => e.inFlight)) <= 2 * this.proven) return undefined;
    const to = this.proven + 1;
    if (this.value !== undefined && to >= this.value) return undefined;
    // The next decision is made on answers sent under the new limit.
    this.evidence = [];
    return this.set(
      to,
      `answers came ${slow.toFixed(1)} times slower than the quickest, in the order they were sent (a queue)`,
    );
  }

  /** Fast answers with the limit in use, from a server that proved it serves that many at once: one more. */
  private grow(request: SentRequest, ratio: number): LimitChange | undefined {
    const limit = this.value;
    if (limit === undefined || limit + 1 >= this.ceiling) return undefined;
    if (request.inFlight < limit || ratio > FAST_RATIO || this.proven < limit) return undefined;
    this.credit += 1 / limit;
    if (this.credit < 1) return undefined;
    return this.set(limit + 1, `${limit} served at once, and answers came as fast as alone`);
  }

  private set(to: number, why: string): LimitChange | undefined {
    const from = this.value;
    this.credit = 0;
    if (to === from) return undefined;
    this.value = to;
    return { ...(from !== undefined ? { from } : {}), to, why };
  }
}
