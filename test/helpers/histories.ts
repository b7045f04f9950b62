/** A run's workflow histories, as text a test can search (payload bytes shown as UTF-8). */
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { collect } from './runs';
import { eventually } from './temporal';

export type History = temporal.api.history.v1.IHistory;

/** Every execution of a run (dataset and instructions), once visibility lists at least `count` of them, all closed. */
export async function closedRunHistories(client: Client, runId: string, count: number): Promise<History[]> {
  const executions = await eventually(async () => {
    const found = await collect(client.workflow.list({ query: `EvolRunId = "${runId}"` }));
    return found.length >= count && found.every((e) => e.status.name !== 'RUNNING') ? found : undefined;
  }, `${count} closed workflows of run ${runId}`);
  return Promise.all(executions.map((e) => client.workflow.getHandle(e.workflowId, e.runId).fetchHistory()));
}

/** Bytes shown as UTF-8 text, so a string inside a payload is as visible as one in a failure message. */
function readable(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(readable);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, readable(v)]));
  }
  return value;
}

/** The histories as one text: each as its fields with payloads decoded as UTF-8, then as the proto JSON. */
export function historiesText(histories: History[]): string {
  return histories
    .map((h) => `${JSON.stringify(readable(h))}\n${historyToJSON(h as temporal.api.history.v1.History)}`)
    .join('\n');
}
