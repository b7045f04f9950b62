/**
 * What every LLM call passes through in this worker, before and after its request:
 * - the run's budget (SpendLedger): spend is counted as each call ends and reported to the run's dataset workflow,
 *   which pauses the run the moment the budget is reached; from then on no new call of the run starts in any
 *   worker, so the budget is overshot by at most the calls already in flight;
 * - the endpoint's requests in flight (EndpointSlots): at most what its server serves at once, said by the server or
 *   learned from its answers (core/in-flight-limit.ts), so that calls wait here rather than in the server's queue;
 * - the endpoint's rate limits (EndpointLimiter): this worker's share of requests and tokens per minute, leased
 *   from the endpoint's rateLimiter workflow (core/rate-limits.ts), spent from local token buckets, and the
 *   provider's own word (x-ratelimit-* headers, 429 Retry-After) shared with every other worker.
 * A call waits at most MAX_GATE_WAIT_MS here in all. Without a Temporal client (unit tests, or outside an activity)
 * the budget and the rate limits work on this process's view alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Context } from '@temporalio/activity';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { budgetReachedBy, ZERO_SPEND, type Spend, type SpendTag, type SpendView } from '../core/dataset';
import type { ServerWord } from '../core/in-flight-limit';
import { budgetHoldFailure, LlmFailure, MAX_GATE_WAIT_MS, rateLimitWaitFailure } from '../core/llm-failures';
import { leaseUpdate, spendUpdate } from '../core/messages';
import { costOf, type CallMode } from '../core/pricing';
import {
  leaseRates,
  parseResetDuration,
  TokenBucket,
  type EndpointLimits,
  type Lease,
  type LeaseRequest,
} from '../core/rate-limits';
import { SIM_BASE_URL, type LlmEndpoint } from '../core/endpoints';
import { addUsage, type Usage } from '../core/usage';
import { EndpointSlots, type Slot } from './endpoint-slots';

/**
 * Longest a call waits for a word from Temporal (the run's spend, a lease) before it goes on with what its worker
 * knows: with the server away, a call must not sit in its activity until its timeout, and then run twice.
 */
const WAIT_FOR_TEMPORAL_MS = 1_000;

/** Waits for `work` at most `ms`; it goes on in the background either way. */
async function atMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Spend is reported to the run at least this often while its calls go on (at once when the budget is reached). */
const SPEND_REPORT_MS = 1_000;

/** The Temporal client of the activity running now, if any. */
function activityClient(): { client: Client; taskQueue: string } | undefined {
  try {
    const context = Context.current();
    return { client: context.client, taskQueue: context.info.taskQueue };
  } catch {
    return undefined;
  }
}

/** The failure a call held by its run's budget ends with: the workflow waits for a resume that raises it. */
export function budgetHeldFailure(view: SpendView): ApplicationFailure {
  return budgetHoldFailure(
    `the run's budget is reached (${view.spent.usage.totalTokens} tokens, $${view.spent.costUsd.toFixed(4)} spent): this call waits for evol resume`,
    { resumes: view.resumes },
  );
}

function overBudget(view: SpendView, extra: Spend): boolean {
  return budgetReachedBy(view.budget, addSpend(view.spent, extra));
}

/** What a worker goes on with when the run gives no word (no client, or the run has ended): no budget. */
const NO_WORD: SpendView = { spent: ZERO_SPEND, budget: {}, stopped: false, resumes: 0 };

/** One dataset run's spend as this worker knows it: the run's last answer, plus what it has not reported yet. */
class SpendLedger {
  private view?: SpendView;
  private unreported: Spend = ZERO_SPEND;
  /** Sent and not yet in the run's answer. */
  private inTransit: Spend = ZERO_SPEND;
  private inFlight = 0;
  private reporting?: Promise<void>;
  private timer?: NodeJS.Timeout;
  /** The run's workflow is gone (completed or cancelled): nobody to report to. */
  private closed = false;
  lastUsedMs = Date.now();

  constructor(private readonly runWorkflowId: string) {}

  /** Before a call: throws the budget-held failure when the run's budget is reached. */
  async admit(): Promise<void> {
    this.lastUsedMs = Date.now();
    if (!this.view && !this.closed) await atMost(this.report(false), WAIT_FOR_TEMPORAL_MS);
    if (this.overBudget()) {
      // Maybe raised by a resume since: ask the run before holding the call.
      await atMost(this.report(false), WAIT_FOR_TEMPORAL_MS);
      if (this.overBudget()) throw budgetHeldFailure(this.view!);
    }
    this.inFlight++;
  }

  /** After a call (answered or not): its spend, reported at once when it reaches the budget. */
  settle(usage: Usage | undefined, costUsd: number): void {
    this.inFlight--;
    this.add(usage, costUsd);
  }

  /** A call's spend, counted as it is learned (a Batch API row's when its answer is read). */
  add(usage: Usage | undefined, costUsd: number): void {
    this.lastUsedMs = Date.now();
    if (usage) this.unreported = addSpend(this.unreported, { calls: 1, usage, costUsd });
    if (this.closed) return;
    if (this.overBudget()) void this.report();
    else this.timer ??= setTimeout(() => void this.report(), SPEND_REPORT_MS).unref();
  }

  /** The run's spend (this worker's unreported calls included) and budget, fresh from the run. */
  async current(): Promise<SpendView | undefined> {
    await this.report();
    return this.view && { ...this.view, spent: addSpend(this.view.spent, addSpend(this.unreported, this.inTransit)) };
  }

  private overBudget(): boolean {
    return this.view !== undefined && overBudget(this.view, addSpend(this.unreported, this.inTransit));
  }

  /**
   * Sends what is unreported and takes the run's answer. One report at a time: with `again` false, a report
   * already on its way is answer enough.
   */
  async report(again = true): Promise<void> {
    while (this.reporting) {
      await this.reporting;
      if (!again) return;
    }
    const target = activityClient();
    if (!target || this.closed) {
      this.view ??= NO_WORD;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    const sent = this.unreported;
    this.unreported = ZERO_SPEND;
    this.inTransit = sent;
    this.reporting = this.send(target.client, sent);
    try {
      await this.reporting;
    } finally {
      this.reporting = undefined;
      this.inTransit = ZERO_SPEND;
    }
  }

  private async send(client: Client, sent: Spend): Promise<void> {
    const handle = client.workflow.getHandle(this.runWorkflowId);
    for (let attempt = 1; ; attempt++) {
      try {
        this.view = await handle.executeUpdate(spendUpdate, { args: [{ ...sent, inFlight: this.inFlight }] });
        return;
      } catch (err) {
        // Refused while the run continued as new, or the server is away for a moment: try again; a run that has
        // ended takes no more reports, and its calls are no longer held.
        const status = await handle
          .describe()
          .then((d) => d.status.name)
          .catch(() => 'UNKNOWN');
        if (status !== 'RUNNING' && status !== 'UNKNOWN') {
          this.closed = true;
          this.view ??= NO_WORD;
          return;
        }
        if (attempt >= 5) {
          // Kept for the next report.
          this.unreported = addSpend(this.unreported, sent);
          this.view ??= NO_WORD;
          void err;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }
}

function addSpend(a: Spend, b: Spend): Spend {
  return { calls: a.calls + b.calls, usage: addUsage(a.usage, b.usage), costUsd: a.costUsd + b.costUsd };
}

interface Waiter {
  tokens: number;
  /** Its workflow waits out a long wait on a durable timer (a dataset run's call), else Temporal retries it. */
  waitsInWorkflow: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
  sinceMs: number;
}

/**
 * One endpoint's rate limits in this worker: calls queue here in order and go when this worker's buckets (its
 * leased share of the limits) hold a request and the call's estimated tokens.
 */
class EndpointLimiter {
  private lease?: Lease;
  private leaseAtMs = 0;
  private renewing?: Promise<void>;
  private requests?: TokenBucket;
  private tokens?: TokenBucket;
  private readonly queue: Waiter[] = [];
  private timer?: NodeJS.Timeout;
  private inFlight = 0;
  /** Limits the provider announced, and how long it asked us to wait. */
  private learned: EndpointLimits = {};
  private blockedUntilMs = 0;
  /** Sent with the next lease: a wait the provider asked for, for every worker. */
  private blockToShare = 0;
  /** Completion tokens per call, learned (a moving average), for the estimate made before a call. */
  private completionEstimate: number;
  lastUsedMs = Date.now();

  constructor(
    private readonly key: string,
    private readonly endpoint: LlmEndpoint,
    /** This worker (its gate), in leases. */
    private readonly worker: string,
  ) {
    this.completionEstimate = Math.min(endpoint.maxTokens, 256);
  }

  /** The limits the latest call's settings give (runs on one endpoint may set them differently: the latest wins). */
  private configured: EndpointLimits = {};

  private get limited(): boolean {
    const { rpm, tpm } = this.configured;
    return Boolean(rpm || tpm || this.learned.rpm || this.learned.tpm || this.blockedUntilMs > Date.now());
  }

  /** Tokens a call is charged at the gate: its prompt (about four characters a token) and a typical answer. */
  estimate(promptChars: number): number {
    return Math.ceil(promptChars / 4) + this.completionEstimate;
  }

  /**
   * Waits for this call's turn; throws a retryable failure when the wait would take it past MAX_GATE_WAIT_MS after
   * `sinceMs`, when it reached the gate.
   */
  async admit(tokens: number, endpoint: LlmEndpoint, waitsInWorkflow: boolean, sinceMs = Date.now()): Promise<void> {
    this.lastUsedMs = Date.now();
    this.configured = {
      ...(endpoint.rpm ? { rpm: endpoint.rpm } : {}),
      ...(endpoint.tpm ? { tpm: endpoint.tpm } : {}),
    };
    if (!this.limited) {
      this.inFlight++;
      return;
    }
    await this.ensureLease();
    // Behind the calls already queued, its turn would come too late: it is told when to come back instead.
    const expected = this.expectedWait(tokens);
    if (Date.now() - sinceMs + expected > MAX_GATE_WAIT_MS) throw this.holdFailure(expected, waitsInWorkflow);
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ tokens, waitsInWorkflow, resolve, reject, sinceMs });
      this.pump();
    });
    this.inFlight++;
  }

  /** After a call: its true tokens against the estimate, and what the provider said about its limits. */
  settle(charged: number, usage: Usage | undefined, headers: Headers | undefined, status?: number): void {
    this.inFlight--;
    const now = Date.now();
    if (usage) {
      this.tokens?.adjust(usage.totalTokens - charged, now);
      this.completionEstimate = Math.round(this.completionEstimate * 0.8 + usage.completionTokens * 0.2);
    }
    if (headers) this.learnFrom(headers, status, now);
  }

  private learnFrom(headers: Headers, status: number | undefined, now: number): void {
    const limitRequests = Number(headers.get('x-ratelimit-limit-requests'));
    const limitTokens = Number(headers.get('x-ratelimit-limit-tokens'));
    if (limitRequests > 0) this.learned.rpm = limitRequests;
    if (limitTokens > 0) this.learned.tpm = limitTokens;
    let until = 0;
    if (headers.get('x-ratelimit-remaining-requests') === '0') {
      until = Math.max(until, now + (parseResetDuration(headers.get('x-ratelimit-reset-requests')) ?? 1000));
    }
    if (headers.get('x-ratelimit-remaining-tokens') === '0') {
      until = Math.max(until, now + (parseResetDuration(headers.get('x-ratelimit-reset-tokens')) ?? 1000));
    }
    if (status === 429) {
      const ms = Number(headers.get('retry-after-ms')) || Number(headers.get('retry-after')) * 1000 || 1000;
      until = Math.max(until, now + ms);
    }
    if (until > this.blockedUntilMs) {
      this.blockedUntilMs = until;
      this.blockToShare = until;
      this.pump();
    }
  }

  /** When a call queued now would go: after the provider's hold, and once the buckets hold it and the queue before it. */
  private expectedWait(tokens: number): number {
    const now = Date.now();
    const queuedTokens = this.queue.reduce((n, w) => n + w.tokens, 0);
    return Math.max(
      this.blockedUntilMs - now,
      this.requests?.timeFor(this.queue.length + 1, now) ?? 0,
      this.tokens?.timeFor(queuedTokens + tokens, now) ?? 0,
      0,
    );
  }

  /** A call held longer than the gate waits: its workflow waits (a dataset run's call), or Temporal retries it. */
  private holdFailure(wait: number, waitsInWorkflow: boolean): ApplicationFailure {
    const where = `model "${this.endpoint.model}" at ${this.endpoint.baseURL}`;
    const waitMs = Math.max(1, Math.round(wait));
    const seconds = Math.ceil(wait / 1000);
    return waitsInWorkflow
      ? rateLimitWaitFailure(
          `held by the rate limits of ${where} (this worker's share): the call waits ${seconds} s in its workflow, then goes`,
          { waitMs },
        )
      : ApplicationFailure.create({
          type: LlmFailure.RateLimited,
          message: `held by the rate limits of ${where} (this worker's share); tried again in ${seconds} s`,
          nonRetryable: false,
          nextRetryDelay: waitMs,
        });
  }

  /** Lets queued calls go while the buckets allow, then sleeps until the next one can. */
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (;;) {
      const head = this.queue[0];
      if (!head) return;
      const now = Date.now();
      if (now - this.leaseAtMs > (this.lease?.renewInMs ?? 0)) void this.ensureLease();
      const wait = Math.max(
        this.blockedUntilMs - now,
        this.requests?.waitFor(1, now) ?? 0,
        this.tokens?.waitFor(head.tokens, now) ?? 0,
        0,
      );
      if (wait === 0) {
        this.requests?.take(1, now);
        this.tokens?.take(head.tokens, now);
        this.queue.shift();
        head.resolve();
        continue;
      }
      if (now - head.sinceMs + wait > MAX_GATE_WAIT_MS) {
        this.queue.shift();
        head.reject(this.holdFailure(wait, head.waitsInWorkflow));
        continue;
      }
      this.timer = setTimeout(() => this.pump(), Math.min(wait, 1000));
      return;
    }
  }

  /** Renews this worker's lease when due (the first one is awaited; later ones run beside the calls). */
  private async ensureLease(): Promise<void> {
    if (this.lease && Date.now() - this.leaseAtMs < this.lease.renewInMs) return;
    if (!this.renewing) {
      this.renewing = this.renew().finally(() => {
        this.renewing = undefined;
      });
    }
    if (!this.lease) {
      await atMost(this.renewing, WAIT_FOR_TEMPORAL_MS);
      // No word from the limiter yet (the server away): go on a small share until it answers.
      this.lease ??= this.provisionalLease();
      this.applyLease();
    }
  }

  /** Without a word from the limiter (the server away): a small share, asked again soon. */
  private provisionalLease(): Lease {
    return { share: 0.5, limits: { ...this.learned, ...this.configured }, blockedUntilMs: 0, renewInMs: 1000 };
  }

  private async renew(): Promise<void> {
    const request: LeaseRequest = {
      worker: this.worker,
      weight: this.queue.length + this.inFlight,
      configured: this.configured,
      learned: this.learned,
      ...(this.blockToShare ? { blockedUntilMs: this.blockToShare } : {}),
    };
    const target = activityClient();
    let lease: Lease;
    if (target && this.endpoint.baseURL !== SIM_BASE_URL) {
      try {
        lease = await target.client.workflow.executeUpdateWithStart(leaseUpdate, {
          args: [request],
          startWorkflowOperation: new WithStartWorkflowOperation('rateLimiter', {
            workflowId: `evol:limits:${this.key}`,
            taskQueue: target.taskQueue,
            workflowIdConflictPolicy: 'USE_EXISTING',
            args: [],
            staticSummary: `rate limits of ${this.endpoint.model} at ${this.endpoint.baseURL}`,
          }),
        });
      } catch {
        // The limiter cannot be reached: keep the last lease a little longer, or go alone on a small share.
        lease = this.lease ?? this.provisionalLease();
      }
    } else {
      // No Temporal client, or a simulated LLM of this process's own: the limits are this worker's alone.
      lease = {
        share: 1,
        limits: { ...this.learned, ...this.configured },
        blockedUntilMs: this.blockedUntilMs,
        renewInMs: 2000,
      };
    }
    this.blockToShare = 0;
    this.lease = lease;
    this.leaseAtMs = Date.now();
    this.applyLease();
  }

  /** The current lease's share in the buckets. */
  private applyLease(): void {
    const lease = this.lease!;
    this.blockedUntilMs = Math.max(this.blockedUntilMs, lease.blockedUntilMs);
    const rates = leaseRates(lease);
    const now = Date.now();
    this.requests = rateBucket(this.requests, rates.requests, 1, now);
    this.tokens = rateBucket(this.tokens, rates.tokens, this.estimate(0), now);
    this.pump();
  }
}

/** A bucket at `perSecond` with one second's worth of burst (at least `least`), or none for no limit. */
function rateBucket(bucket: TokenBucket | undefined, perSecond: number | undefined, least: number, now: number) {
  if (!perSecond) return undefined;
  const capacity = Math.max(least, perSecond);
  // A new bucket holds one call, not a second's burst: a worker joining others starts at its pace.
  if (!bucket) return new TokenBucket(perSecond, capacity, now, least);
  bucket.setRate(perSecond, capacity, now);
  return bucket;
}

/** What a call holds from the gate until it settles. */
export interface GatePass {
  settle(result: { usage?: Usage; headers?: Headers; status?: number; timedOut?: boolean }): void;
}

/** What the gate knows of a call besides its endpoint, its prompt and its budget. */
export interface CallTicket {
  /** Its role: answers of one role are compared with each other. */
  role: string;
  /** Names the call across the times it comes back (its place among the endpoint's calls is kept). */
  key: string;
  /** What the endpoint's server says of itself; undefined until it could be asked. */
  word?: ServerWord;
  /** When the call reached the gate: it waits there at most MAX_GATE_WAIT_MS in all. */
  sinceMs: number;
}

/** Idle ledgers and limiters are dropped after this long. */
const IDLE_MS = 15 * 60_000;

export class CallGate {
  private readonly ledgers = new Map<string, SpendLedger>();
  private readonly limiters = new Map<string, EndpointLimiter>();
  private readonly slots = new Map<string, { slots: EndpointSlots; lastUsedMs: number }>();
  /** One gate per worker (a process may run several): host, pid and a random part. */
  private readonly worker = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

  /**
   * Waits for the call's turn (budget, a slot of its endpoint, then rate limits); the pass must be settled once the
   * call ends. Its request goes as soon as this returns.
   */
  async admit(
    endpoint: LlmEndpoint,
    promptChars: number,
    spend: SpendTag | undefined,
    ticket: CallTicket = { role: 'call', key: '', sinceMs: Date.now() },
  ): Promise<GatePass> {
    this.dropIdle();
    const waitsInWorkflow = spend !== undefined;
    const ledger = spend ? this.ledger(spend.runWorkflowId) : undefined;
    await ledger?.admit();
    let slot: Slot | undefined;
    const limiter = this.limiter(endpoint);
    const charged = limiter.estimate(promptChars);
    try {
      slot = await this.slotsOf(endpoint, ticket.word)?.take({
        key: ticket.key,
        deadlineMs: ticket.sinceMs + MAX_GATE_WAIT_MS,
        waitsInWorkflow,
      });
      await limiter.admit(charged, endpoint, waitsInWorkflow, ticket.sinceMs);
    } catch (err) {
      slot?.release();
      ledger?.settle(undefined, 0);
      throw err;
    }
    slot?.send();
    let settled = false;
    return {
      settle: ({ usage, headers, status, timedOut }) => {
        if (settled) return;
        settled = true;
        if (usage) slot?.answered({ completionTokens: usage.completionTokens, shape: ticket.role });
        else slot?.failed({ timedOut: timedOut === true });
        limiter.settle(charged, usage, headers, status);
        ledger?.settle(usage, usage ? costOf(usage, spend?.price) : 0);
      },
    };
  }

  /** The limit on requests in flight at an endpoint now (undefined: none), as this worker keeps it. */
  inFlightLimitOf(endpoint: LlmEndpoint): number | undefined {
    return this.slots.get(endpointName(endpoint))?.slots.limit.limit;
  }

  /** A call made outside this gate (a Batch API row, read when its batch is done): its spend, counted now. */
  record(spend: SpendTag | undefined, usage: Usage, mode: CallMode): void {
    if (spend) this.ledger(spend.runWorkflowId).add(usage, costOf(usage, spend.price, mode));
  }

  /** A run's spend and budget as its workflow has them now (undefined when it cannot be reached). */
  spendOf(runWorkflowId: string): Promise<SpendView | undefined> {
    return this.ledger(runWorkflowId).current();
  }

  private ledger(runWorkflowId: string): SpendLedger {
    let ledger = this.ledgers.get(runWorkflowId);
    if (!ledger) this.ledgers.set(runWorkflowId, (ledger = new SpendLedger(runWorkflowId)));
    return ledger;
  }

  /** The endpoint's slots, made when its server's word is known (before, its calls are not held). */
  private slotsOf(endpoint: LlmEndpoint, word: ServerWord | undefined): EndpointSlots | undefined {
    const name = endpointName(endpoint);
    let entry = this.slots.get(name);
    if (!entry) {
      if (!word) return undefined;
      const where = `model "${endpoint.model}" at ${endpoint.baseURL}`;
      entry = { slots: new EndpointSlots(word, where, (change) => noticeLimit(where, change)), lastUsedMs: 0 };
      this.slots.set(name, entry);
    }
    entry.lastUsedMs = Date.now();
    return entry.slots;
  }

  private limiter(endpoint: LlmEndpoint): EndpointLimiter {
    const name = endpointName(endpoint);
    let limiter = this.limiters.get(name);
    if (!limiter) {
      limiter = new EndpointLimiter(shortHash(name), endpoint, this.worker);
      this.limiters.set(name, limiter);
    }
    return limiter;
  }

  private dropIdle(): void {
    const cutoff = Date.now() - IDLE_MS;
    for (const [key, ledger] of this.ledgers) if (ledger.lastUsedMs < cutoff) this.ledgers.delete(key);
    for (const [key, limiter] of this.limiters) if (limiter.lastUsedMs < cutoff) this.limiters.delete(key);
    for (const [key, entry] of this.slots) {
      if (entry.lastUsedMs < cutoff && entry.slots.limit.inFlight === 0) this.slots.delete(key);
    }
  }
}

/** An endpoint as the gate tells them apart: base URL, model and key variable. */
function endpointName(endpoint: LlmEndpoint): string {
  // The simulated LLM of `sim://local` is this process's own: its limits are not shared with other workers.
  const where = endpoint.baseURL === SIM_BASE_URL ? `${SIM_BASE_URL}#${process.pid}` : endpoint.baseURL;
  return `${where}|${endpoint.model}|${endpoint.apiKeyEnv}`;
}

/** A change of an endpoint's limit on requests in flight, in the worker's log (when in an activity). */
function noticeLimit(where: string, change: { from?: number; to: number; why: string }): void {
  try {
    Context.current().log.info(
      `${where}: at most ${change.to} request${change.to === 1 ? '' : 's'} in flight from this worker${change.from !== undefined ? ` (was ${change.from})` : ''}: ${change.why}`,
    );
  } catch {
    // Outside an activity (unit tests): no log.
  }
}

/** A short stable name for an endpoint in a workflow id (no URL or model text in ids). */
function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
