/** `evol score`: rates a run's rows for difficulty and complexity, durably, and says how each round fares. */
import type { WorkflowHandle } from '@temporalio/client';
import { describeSampling, resolveScorer, type LlmMode } from '../core/config';
import { scoreProgressQuery } from '../core/messages';
import { scoreLine, scoresByRound } from '../core/report-data';
import { datasetSettingsOf } from '../core/run';
import type { RowScore, ScoreProgress } from '../core/scoring';
import { UserError } from '../core/validation';
import { checkRunId } from '../store/object-run-store';
import { openRunStore } from '../store/location';
import { startScoreRun } from './api';
import { loadConfigFile } from './config-file';
import { openSession, untilCtrlC } from './embedded';
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
    const finished = await untilCtrlC((stop) => session.run(() => followScores(handle, stop)));
    if (!finished) {
      stderr(
        howToComeBack(session, runId, {
          what: 'the scoring of run',
          status: `evol score ${runId}`,
          follow: `evol score ${runId}`,
        }),
      );
      process.exitCode = 130;
      return;
    }
    stderr(
      `Scored ${finished.scored} rows of run ${runId} (${finished.cached} already scored, ${finished.failed} without a usable rating, ${finished.reasks} answers asked again; ${finished.usage.totalTokens} tokens).`,
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

async function followScores(handle: WorkflowHandle, stop: Promise<void>): Promise<ScoreProgress | undefined> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  let lastLine = 0;
  for (;;) {
    const progress = await handle.query(scoreProgressQuery).catch(async (err) => {
      const { status } = await handle.describe();
      if (status.name === 'COMPLETED') return (await handle.result()) as ScoreProgress;
      if (status.name !== 'RUNNING') {
        throw new UserError(`the scoring ${status.name.toLowerCase()}: \`evol score\` again goes on where it stopped`);
      }
      throw err;
    });
    if (progress.status === 'completed') return progress;
    if (progress.status === 'running' && Date.now() - lastLine >= 5000) {
      const done = progress.scored + progress.cached + progress.failed;
      stderr(`${done}/${progress.total} rows scored, ${progress.inFlight} in flight`);
      lastLine = Date.now();
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 500)), stop]);
    if (stopped) return undefined;
  }
}
