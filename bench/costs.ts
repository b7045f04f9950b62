/**
 * What a run costs, read from what it leaves behind: the events, bytes and Temporal Cloud Actions of every workflow
 * history of the run. The mapping from history events to billed Actions is Temporal's own table,
 * https://docs.temporal.io/cloud/actions (its "History Event Type" columns, read 2026-12-06):
 *
 * - WorkflowExecutionStarted: 1 (a start, a Continue-As-New's new run, the start of a Signal-With-Start);
 * - ActivityTaskScheduled: 1, and ActivityTaskStarted's `attempt` - 1 more (retries);
 * - MarkerRecorded (local activities): 1 per workflow task that recorded any, however many it recorded, and
 *   WorkflowTaskCompleted's `meteringMetadata.nonfirstLocalActivityExecutionAttempts` more (their retries);
 * - WorkflowExecutionSignaled: 1 (a signal from a workflow counts in the history it reaches only);
 * - WorkflowExecutionUpdateAccepted: 1 (a rejected update is never written: not counted here);
 * - TimerStarted: 1; UpsertWorkflowSearchAttributes: 1; WorkflowExecutionOptionsUpdated: 1;
 * - StartChildWorkflowExecutionInitiated: 2.
 *
 * Not in any history, so not counted: queries (`evol run` following a run queries its progress once a second),
 * activity heartbeats (only Auto Evol-Instruct's and the Batch API's activities heartbeat), rejected updates.
 * Temporal's page says the history gives an estimate; its usage dashboard has the billed figure.
 */
import { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type History = temporal.api.history.v1.IHistory;
const EventType = temporal.api.enums.v1.EventType;

/** Where the mapping above comes from. */
export const ACTIONS_SOURCE = 'https://docs.temporal.io/cloud/actions';

/** The billed Actions, by what caused them. */
export const ACTION_KINDS = [
  'workflow started',
  'activity scheduled',
  'activity retried',
  'local activities (per workflow task)',
  'local activity retried',
  'signal',
  'update',
  'search attribute upsert',
  'timer',
  'child workflow',
  'workflow options updated',
] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** One action per event of these types. */
const ONE_ACTION: Partial<Record<number, ActionKind>> = {
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]: 'workflow started',
  [EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]: 'activity scheduled',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]: 'signal',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]: 'update',
  [EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES]: 'search attribute upsert',
  [EventType.EVENT_TYPE_TIMER_STARTED]: 'timer',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED]: 'workflow options updated',
};

/** Events, bytes and Actions of a set of histories, added up. */
export interface HistoryTally {
  workflows: number;
  events: number;
  /** Of `History.encode(h)`: the protobuf the server hands out, payloads included. */
  bytes: number;
  /** By event type, without the `EVENT_TYPE_` prefix, e.g. `WORKFLOW_TASK_COMPLETED`. */
  eventsByType: Record<string, number>;
  actions: Record<ActionKind, number>;
}

export function emptyTally(): HistoryTally {
  return {
    workflows: 0,
    events: 0,
    bytes: 0,
    eventsByType: {},
    actions: Object.fromEntries(ACTION_KINDS.map((kind) => [kind, 0])) as Record<ActionKind, number>,
  };
}

const num = (value: { toString(): string } | number | null | undefined): number => Number(String(value ?? 0));

/** The Actions one history's events stand for, by the mapping at the top of this file. */
export function actionsOf(events: readonly HistoryEvent[]): Record<ActionKind, number> {
  const actions = emptyTally().actions;
  const tasksWithMarkers = new Set<number>();
  for (const event of events) {
    const type = event.eventType ?? 0;
    const kind = ONE_ACTION[type];
    if (kind) actions[kind]++;
    if (type === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
      actions['activity retried'] += Math.max(0, num(event.activityTaskStartedEventAttributes?.attempt) - 1);
    } else if (type === EventType.EVENT_TYPE_MARKER_RECORDED) {
      tasksWithMarkers.add(num(event.markerRecordedEventAttributes?.workflowTaskCompletedEventId));
    } else if (type === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
      const metering = event.workflowTaskCompletedEventAttributes?.meteringMetadata;
      actions['local activity retried'] += num(metering?.nonfirstLocalActivityExecutionAttempts);
    } else if (type === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED) {
      actions['child workflow'] += 2;
    }
  }
  actions['local activities (per workflow task)'] = tasksWithMarkers.size;
  return actions;
}

/** Adds one workflow history to `into`. */
export function addHistory(history: History, into: HistoryTally): HistoryTally {
  const events = history.events ?? [];
  into.workflows++;
  into.events += events.length;
  into.bytes += temporal.api.history.v1.History.encode(history).finish().length;
  for (const event of events) {
    const type = EventType[event.eventType ?? 0].replace('EVENT_TYPE_', '');
    into.eventsByType[type] = (into.eventsByType[type] ?? 0) + 1;
  }
  const actions = actionsOf(events);
  for (const kind of ACTION_KINDS) into.actions[kind] += actions[kind];
  return into;
}

export function totalActions(tally: HistoryTally): number {
  return ACTION_KINDS.reduce((sum, kind) => sum + tally.actions[kind], 0);
}
