/**
 * Follows a dataset run in the terminal: a progress bar (done / total, eliminations, tokens, ETA)
 * on a TTY, elsewhere a line when it moves (at most every 5 s) or once a minute. Following never changes the run.
 */
import cliProgress from 'cli-progress';
import type { WorkflowHandle } from '@temporalio/client';
import type { RunProgress } from '../core/dataset';
import { watchRun } from './api';
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

function progressLine(progress: RunProgress): string {
  const f = figuresOf(progress);
  const state = progress.status === 'paused' ? ` PAUSED (${progress.pauseReason})` : '';
  const trouble = callTrouble(progress);
  return `${f.done}/${f.total} done, ${progress.inFlight} running, ${f.eliminated} eliminated${trouble ? `, ${trouble}` : ''}, ${f.tokens} tokens, $${f.costUsd.toFixed(4)}, ${f.rate.toFixed(2)}/s, ETA ${formatDuration(f.etaSeconds)}${state}`;
}

export interface FollowOptions {
  /** Resolves to stop following early (Ctrl-C). */
  stop: Promise<void>;
  pollMs?: number;
  out?: NodeJS.WriteStream;
}

/** Watches the run until it completes (returns it) or following is stopped (returns undefined), drawing its progress. */
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
  let lastLine = 0;
  let lastText = '';
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
      // A new line when something moved (at most every 5 s), and once a minute while nothing does.
      const text = progressLine(progress);
      const due = Date.now() - lastLine >= (text === lastText ? 60_000 : 5000);
      if (due || progress.status === 'completed') {
        out.write(`${text}\n`);
        lastLine = Date.now();
        lastText = text;
      }
    }
  };
  try {
    return await watchRun(handle, { stop: options.stop, pollMs: options.pollMs, onProgress: draw });
  } finally {
    bar?.stop();
  }
}
