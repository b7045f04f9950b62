/**
 * `evol replay`: replays a workflow history against the current workflow code and says plainly
 * whether it is deterministic, and if not, what diverged.
 */
import fs from 'node:fs';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { UserError } from '../core/validation';
import { installQuietRuntime } from '../worker/runtime';
import { WORKFLOW_BUNDLER_OPTIONS } from '../worker/workflow-source';
import { openSession } from './embedded';
import { plural } from '../core/plural';
import { EXIT } from './errors';

type History = temporal.api.history.v1.IHistory;

export interface ReplayOutcome {
  deterministic: boolean;
  workflowType?: string;
  events: number;
  /** What diverged, when it is not deterministic. */
  divergence?: string;
}

/** Reads a history as exported by Temporal UI or `temporal workflow show --output json`. */
export function readHistoryFile(file: string): History {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new UserError(`cannot read the history ${file}: ${(err as Error).message}`);
  }
  // Some exports wrap the history: { "history": { "events": [...] } }.
  const wrapped = (data as { history?: unknown })?.history;
  const raw = wrapped && typeof wrapped === 'object' ? wrapped : data;
  if (!Array.isArray((raw as { events?: unknown })?.events)) {
    throw new UserError(`${file} is not a workflow history: expected a JSON object with an "events" array`);
  }
  try {
    return historyFromJSON(raw);
  } catch (err) {
    throw new UserError(`${file} is not a valid workflow history: ${(err as Error).message}`);
  }
}

export async function replayHistory(
  history: History,
  workflowsPath = require.resolve('../workflows'),
): Promise<ReplayOutcome> {
  installQuietRuntime();
  const events = history.events?.length ?? 0;
  const workflowType = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? undefined;
  try {
    await Worker.runReplayHistory(
      { workflowsPath, bundlerOptions: WORKFLOW_BUNDLER_OPTIONS, replayName: 'evol-replay' },
      history,
    );
    return { deterministic: true, workflowType, events };
  } catch (err) {
    if ((err as Error)?.name === 'DeterminismViolationError') {
      return { deterministic: false, workflowType, events, divergence: (err as Error).message };
    }
    throw err;
  }
}

export async function runReplay(
  workflowId: string | undefined,
  options: { history?: string; execution?: string },
): Promise<void> {
  if (!workflowId && !options.history) throw new UserError('give a workflow id, or --history FILE');
  let history: History;
  let source: string;
  if (options.history) {
    history = readHistoryFile(options.history);
    source = options.history;
  } else {
    const session = await openSession({ worker: 'never' });
    try {
      history = await session.client.workflow.getHandle(workflowId!, options.execution).fetchHistory();
      source = `workflow ${workflowId}`;
    } finally {
      await session.close();
    }
  }
  const outcome = await replayHistory(history);
  const what = `${source} (${outcome.workflowType ?? 'unknown type'}, ${plural(outcome.events, 'event')})`;
  if (outcome.deterministic) {
    process.stdout.write(`Deterministic: the current code replays ${what} without divergence.\n`);
    return;
  }
  process.stdout.write(`NOT deterministic: the current code diverges from ${what}.\n${outcome.divergence}\n`);
  process.stdout.write(
    'A change that running workflows depend on must go behind patched() (see README, "Changing workflow code").\n',
  );
  process.exitCode = EXIT.failed;
}
