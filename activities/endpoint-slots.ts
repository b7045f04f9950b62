/**
 * One endpoint's requests in flight from this worker, kept within its limit (core/in-flight-limit.ts). A call waits
 * here for a free slot, oldest first, so that it waits at the worker rather than in the server's queue: its request,
 * and the request's timeout, start when it has one. A call whose turn would come after the gate's longest wait is
 * handed back with how long to wait (a dataset run's waits in its workflow on a durable timer; any other is retried
 * by Temporal after the wait), and keeps its place: it goes before the calls that came after it, when it is back.
 */
import { ApplicationFailure } from '@temporalio/common';
import { InFlightLimit, type LimitChange, type SentRequest, type ServerWord } from '../core/in-flight-limit';
import { MAX_GATE_WAIT_MS, slotWaitFailure } from '../core/llm-failures';

/** A call handed back is expected this long after its wait at most; then its place is given up. */
const AWAY_GRACE_MS = 60_000;

export interface SlotCall {
  /** Names the call across the times it comes back (the same request of the same workflow). */
  key: string;
  /** It must have a slot by then, or be handed back. */
  deadlineMs: number;
  /** Its workflow waits out a long wait on a durable timer (a dataset run's call), else Temporal retries it. */
  waitsInWorkflow: boolean;
}

/** A slot held: its request goes with `send`, and the slot is given back with `answered` or `failed` (or `release`). */
export interface Slot {
  send(): void;
  answered(answer: { completionTokens: number; shape: string }): void;
  failed(outcome: { timedOut: boolean }): void;
  /** Given back unsent (the call was held elsewhere before its request went). */
  release(): void;
}

interface Waiter {
  call: SlotCall;
  /** Its place in the queue: the order in which calls first came. */
  place: number;
  resolve: (slot: Slot) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

export class EndpointSlots {
  readonly limit: InFlightLimit;
  /** Oldest first. */
  private readonly queue: Waiter[] = [];
  /** Calls handed back, by key: their place, and when they are due back. */
  private readonly away = new Map<string, { place: number; backAtMs: number }>();
  private nextPlace = 0;
  /** Slots taken whose request has not gone yet. */
  private reserved = 0;
  /** When each request in flight went. */
  private readonly sentAt = new Map<number, number>();
  /** How long an answer takes, from its request to its end (a moving average). */
  private answerMs?: number;

  constructor(
    word: ServerWord,
    /** Names the endpoint in messages: `model "m" at URL`. */
    private readonly where: string,
    /** Told of each change of the limit. */
    private readonly onChange: (change: LimitChange) => void,
  ) {
    this.limit = new InFlightLimit(word);
    if (this.limit.limit !== undefined) {
      const says = word.slots ? `it says it serves ${word.slots} at once` : `${word.kind} queues what it cannot serve`;
      onChange({ to: this.limit.limit, why: says });
    }
  }

  /** Waits for a free slot, oldest first; throws a hand-back failure when the wait would pass the call's deadline. */
  async take(call: SlotCall): Promise<Slot> {
    const now = Date.now();
    const place = this.away.get(call.key)?.place ?? this.nextPlace++;
    this.away.delete(call.key);
    for (const [key, away] of this.away) if (away.backAtMs + AWAY_GRACE_MS < now) this.away.delete(key);
    if (this.queue.length === 0 && this.hasRoom()) return this.reserve();
    const wait = this.expectedWait(place, now);
    if (now + wait > call.deadlineMs) throw this.handBack(call, place, wait);
    return new Promise<Slot>((resolve, reject) => {
      const waiter: Waiter = {
        call,
        place,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.queue.splice(this.queue.indexOf(waiter), 1);
          reject(this.handBack(call, place, this.expectedWait(place, Date.now())));
        }, call.deadlineMs - now),
      };
      const at = this.queue.findIndex((w) => w.place > place);
      this.queue.splice(at < 0 ? this.queue.length : at, 0, waiter);
      this.pump();
    });
  }

  private hasRoom(): boolean {
    const limit = this.limit.limit;
    return limit === undefined || this.limit.inFlight + this.reserved < limit;
  }

  /** Lets the oldest waiting calls go while there is room. */
  private pump(): void {
    while (this.queue.length > 0 && this.hasRoom()) {
      const waiter = this.queue.shift()!;
      clearTimeout(waiter.timer);
      waiter.resolve(this.reserve());
    }
  }

  private reserve(): Slot {
    this.reserved++;
    let request: SentRequest | undefined;
    let done = false;
    const finish = (change?: LimitChange) => {
      done = true;
      if (request) this.sentAt.delete(request.seq);
      if (change) this.onChange(change);
      this.pump();
    };
    return {
      send: () => {
        if (done || request) return;
        this.reserved--;
        request = this.limit.send();
        this.sentAt.set(request.seq, Date.now());
      },
      answered: ({ completionTokens, shape }) => {
        if (done || !request) return;
        const latencyMs = Date.now() - this.sentAt.get(request.seq)!;
        this.answerMs = this.answerMs === undefined ? latencyMs : this.answerMs * 0.8 + latencyMs * 0.2;
        finish(this.limit.answered(request, { latencyMs, completionTokens, shape }));
      },
      failed: ({ timedOut }) => {
        if (done || !request) return;
        finish(this.limit.failed(request, { timedOut }));
      },
      release: () => {
        if (done || request) return;
        this.reserved--;
        finish();
      },
    };
  }

  /** How long a call at `place` waits for a slot: the calls before it, at the pace answers come. */
  private expectedWait(place: number, now: number): number {
    const limit = this.limit.limit;
    if (limit === undefined) return 0;
    let ahead = this.queue.filter((w) => w.place < place).length;
    for (const away of this.away.values()) if (away.place < place) ahead++;
    const free = limit - this.limit.inFlight - this.reserved;
    if (ahead < free) return 0;
    const turns = Math.floor((ahead - free) / limit) + 1;
    return turns * this.typicalAnswerMs(now);
  }

  /** The moving average of answers, or before any, how long the oldest request in flight has been out (1 s at least). */
  private typicalAnswerMs(now: number): number {
    if (this.answerMs !== undefined) return this.answerMs;
    const oldest = Math.min(now, ...this.sentAt.values());
    return Math.max(1000, now - oldest);
  }

  /** The failure a call whose turn is too far off ends with; it keeps its place for when it comes back. */
  private handBack(call: SlotCall, place: number, wait: number): ApplicationFailure {
    // Back a little before its turn, so it waits its last seconds here, in its place.
    const waitMs = Math.max(1000, Math.round(wait - MAX_GATE_WAIT_MS / 2));
    this.away.set(call.key, { place, backAtMs: Date.now() + waitMs });
    const seconds = Math.ceil(waitMs / 1000);
    const served = `${this.where} serves ${this.limit.limit} request${this.limit.limit === 1 ? '' : 's'} at a time from this worker`;
    return slotWaitFailure(
      call.waitsInWorkflow
        ? `${served}, taken by the calls before this one: it waits ${seconds} s in its workflow, then goes`
        : `${served}, taken by the calls before this one: tried again in ${seconds} s`,
      { waitMs },
      call.waitsInWorkflow,
    );
  }
}
