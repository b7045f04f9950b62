/**
 * Follows a dataset run in the terminal: a progress bar (done / total, eliminations, tokens, ETA) on a TTY, elsewhere
 * a line when the run moves (at most every 5 s) and one a minute while it does not. Following never changes the run;
 * it ends when the run completes or pauses (or on Ctrl-C).
 */
import cliProgress from 'cli-progress';
import type { WorkflowHandle } from '@temporalio/client';
import type { RunProgress } from '../core/dataset';
import { plural } from '../core/plural';
import { watchRun, type WorkerWait } from './api';
import { formatDuration } from '../core/summaries';

export { formatDuration };

export interface RunFigures {
  done: number;
  total: number;
  eliminated: number;
  tokens: number;
  costUsd: number;
  /** Instructions finished per second of active time (this incarnation's work only). */
  rate: number;
  etaSeconds?: number;
}

export function figuresOf(progress: RunProgress): RunFigures {
  const { counts } = progress;
  const eliminated = counts.eliminatedByRound.reduce((a, b) => a + b, 0);
  const worked = counts.done - counts.alreadyDone;
  const rate = progress.activeMs > 0 ? worked / (progress.activeMs / 1000) : 0;
  const remaining = progress.totalSeeds - counts.done;
  return {
    done: counts.done,
    total: progress.totalSeeds,
    eliminated,
    // Every call's spend as it ended, where the run counts it (running instructions included).
    tokens: Math.max(counts.usage.totalTokens, progress.spent.usage.totalTokens),
    costUsd: Math.max(counts.costUsd, progress.spent.costUsd),
    rate,
    etaSeconds: rate > 0 ? remaining / rate : undefined,
  };
}

/** Unusable answers asked again and LLM calls retried after faults, when there were any ("" otherwise). */
export function callTrouble(progress: RunProgress): string {
  const { reasks = 0, retries = 0 } = progress.counts;
  const parts = [reasks ? `${reasks} re-asked` : '', retries ? `${retries} retried after LLM faults` : ''];
  return parts.filter(Boolean).join(', ');
}

/** What a progress line says that can move: its rate and ETA are left out, they change at every poll. */
function movement(progress: RunProgress): string {
  const f = figuresOf(progress);
  return [f.done, progress.inFlight, f.eliminated, callTrouble(progress), f.tokens, f.costUsd, progress.status].join(
    '|',
  );
}

export function progressLine(progress: RunProgress): string {
  const f = figuresOf(progress);
  const state = progress.status === 'paused' ? ` PAUSED (${progress.pauseReason})` : '';
  const trouble = callTrouble(progress);
  return `${f.done}/${f.total} done, ${progress.inFlight} running, ${f.eliminated} eliminated${trouble ? `, ${trouble}` : ''}, ${plural(f.tokens, 'token')}, $${f.costUsd.toFixed(4)}, ${f.rate.toFixed(2)}/s, ETA ${formatDuration(f.etaSeconds)}${state}`;
}

/**
 * When to print a progress line without a TTY (a log file, a CI job): at once when what it says has moved since the
 * last line, but at most every `everyMs`; while nothing moves, once every `heartbeatMs`, so the log shows the command
 * is alive without repeating itself every few seconds.
 */
export class QuietProgress {
  private lastAt?: number;
  private lastMovement?: string;

  constructor(
    private readonly everyMs = 5_000,
    private readonly heartbeatMs = 60_000,
  ) {}

  /** Whether a line summed up by `movement` is due now; `final` (the run completed or paused) always is. */
  due(movement: string, now: number, final = false): boolean {
    if (!final && this.lastAt !== undefined) {
      const wait = movement === this.lastMovement ? this.heartbeatMs : this.everyMs;
      if (now - this.lastAt < wait) return false;
    }
    this.lastAt = now;
    this.lastMovement = movement;
    return true;
  }
}

/** The lines to print for a run followed without a TTY: progress lines as {@link QuietProgress} allows them. */
export function quietRunLines(clock: () => number = Date.now): (progress: RunProgress) => string | undefined {
  const quiet = new QuietProgress();
  return (progress) =>
    quiet.due(movement(progress), clock(), progress.status !== 'running') ? progressLine(progress) : undefined;
}

export interface FollowOptions {
  /** Resolves to stop following early (Ctrl-C). */
  stop: Promise<void>;
  pollMs?: number;
  out?: NodeJS.WriteStream;
  /** How long to wait for a worker when none answers. */
  wait?: WorkerWait;
}

/**
 * Watches the run until it completes or pauses (returns its progress then) or following is stopped (returns
 * undefined), drawing its progress.
 */
export async function followRun(handle: WorkflowHandle, options: FollowOptions): Promise<RunProgress | undefined> {
  const out = options.out ?? process.stderr;
  const bar = out.isTTY
    ? new cliProgress.SingleBar(
        {
          stream: out,
          format:
            '{bar} {value}/{total} | {eliminated} eliminated{trouble} | {tokens} tokens | {rate}/s | ETA {eta_text} {state}',
          hideCursor: true,
          barsize: 30,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const quietLine = quietRunLines();
  let started = false;
  const draw = (progress: RunProgress) => {
    const f = figuresOf(progress);
    if (bar) {
      const payload = {
        eliminated: f.eliminated,
        trouble: callTrouble(progress) ? ` | ${callTrouble(progress)}` : '',
        tokens: f.tokens,
        rate: f.rate.toFixed(2),
        eta_text: formatDuration(f.etaSeconds),
        state: progress.status === 'paused' ? `PAUSED: ${progress.pauseReason}` : '',
      };
      if (!started) bar.start(f.total, f.done, payload);
      else bar.update(f.done, payload);
      started = true;
    } else {
      const line = quietLine(progress);
      if (line) out.write(`${line}\n`);
    }
  };
  try {
    return await watchRun(handle, {
      stop: options.stop,
      pollMs: options.pollMs,
      onProgress: draw,
      untilPaused: true,
      wait: options.wait,
    });
  } finally {
    bar?.stop();
  }
}
