/** `evol score`: rates a run's rows for difficulty and complexity, durably, and says how each round fares. */
import type { WorkflowHandle } from '@temporalio/client';
import { describeSampling, resolveScorer, type LlmMode } from '../core/config';
import { scoreProgressQuery } from '../core/messages';
import { scoreLine, scoresByRound } from '../core/report-data';
import { datasetSettingsOf } from '../core/run';
import type { RowScore, ScoreProgress } from '../core/scoring';
import { plural } from '../core/plural';
import { UserError } from '../core/validation';
import { checkRunId } from '../store/object-run-store';
import { openRunStore } from '../store/location';
import { queryRun, startScoreRun, type WorkerWait } from './api';
import { loadConfigFile } from './config-file';
import { openSession, untilCtrlC } from './embedded';
import { EXIT } from './errors';
import { QuietProgress } from './follow';
import { howToComeBack } from './run';
import { stderr } from './format';

export interface ScoreOptions {
  sample?: number;
  rounds?: string;
  seed: number;
  concurrency: number;
  config?: string;
  llm: LlmMode;
  taskQueue: string;
  detach?: boolean;
  verbose?: boolean;
}

/** `all`, or a list of rounds such as `0,1,4` (0: the seeds). */
export function parseRounds(value: string | undefined): number[] | undefined {
  if (value === undefined || value === 'all') return undefined;
  const rounds = value.split(',').map((part) => Number(part.trim()));
  if (rounds.some((r) => !Number.isInteger(r) || r < 0)) {
    throw new UserError(`--rounds takes "all" or rounds such as 0,1,2 (0: the seeds), not "${value}"`);
  }
  return rounds;
}

export async function runScore(runId: string, options: ScoreOptions): Promise<void> {
  checkRunId(runId);
  const store = openRunStore();
  if (!(await store.runExists(runId)))
    throw new UserError(`no run "${runId}" in ${store.location}: \`evol runs\` lists them`);
  const meta = await store.readMeta(runId);
  datasetSettingsOf(meta); // a learning run has no rows to score: say so before a server is started
  const rounds = parseRounds(options.rounds);
  const { file } = loadConfigFile(options.config);
  const scorer = resolveScorer({ env: process.env, file, mode: options.llm });
  for (const line of describeSampling({ scorer })) stderr(line);

  const session = await openSession({ taskQueue: options.taskQueue, handleSignals: false, verbose: options.verbose });
  try {
    const { handle, alreadyRunning } = await startScoreRun(session.client, session.taskQueue, meta, {
      scorer,
      concurrency: options.concurrency,
      seed: options.seed,
      ...(file?.unusableRetries !== undefined ? { unusableRetries: file.unusableRetries } : {}),
      ...(options.sample !== undefined ? { perRound: options.sample } : {}),
      ...(rounds ? { rounds } : {}),
    });
    if (alreadyRunning) stderr(`Scoring of ${runId} is already running: following it.`);
    if (options.detach) {
      stderr(`Started; not following (--detach). \`evol score ${runId}\` follows it again.`);
      return;
    }
    const wait = { ...session.workerWait, again: `evol score ${runId}` };
    const finished = await untilCtrlC((stop) => session.run(() => followScores(handle, stop, wait)));
    if (!finished) {
      stderr(
        howToComeBack(session, runId, {
          what: 'the scoring of run',
          status: `evol score ${runId}`,
          follow: `evol score ${runId}`,
        }),
      );
      process.exitCode = EXIT.detached;
      return;
    }
    stderr(
      `Scored ${plural(finished.scored, 'row')} of run ${runId} (${finished.cached} already scored, ${finished.failed} without a usable rating, ${plural(finished.reasks, 'answer')} asked again; ${plural(finished.usage.totalTokens, 'token')}).`,
    );
    const scores: RowScore[] = [];
    for await (const score of store.scores(runId)) scores.push(score);
    stderr('Difficulty and complexity, 1-10 (round 0: the seeds):');
    for (const round of scoresByRound(scores)) stderr(scoreLine(round));
    stderr(`See them beside the rest: evol report ${runId}`);
  } finally {
    await session.close();
  }
}

async function followScores(
  handle: WorkflowHandle,
  stop: Promise<void>,
  wait: WorkerWait,
): Promise<ScoreProgress | undefined> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const quiet = new QuietProgress();
  for (;;) {
    const progress = await queryRun(handle, scoreProgressQuery, {
      wait,
      whenClosed: async (status) => {
        if (status === 'COMPLETED') return (await handle.result()) as ScoreProgress;
        throw new UserError(`the scoring ${status.toLowerCase()}: \`evol score\` again goes on where it stopped`);
      },
    });
    if (progress.status === 'completed') return progress;
    if (progress.status === 'running') {
      const line = `${progress.scored + progress.cached + progress.failed}/${plural(progress.total, 'row')} scored, ${progress.inFlight} in flight`;
      if (quiet.due(line, Date.now())) stderr(line);
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 500)), stop]);
    if (stopped) return undefined;
  }
}
