import { temporal } from '@temporalio/proto';
import { actionsOf, addHistory, emptyTally, totalActions } from '../../bench/costs';

const EventType = temporal.api.enums.v1.EventType;
type Event = temporal.api.history.v1.IHistoryEvent;

/** A Long in the typings; the counting reads numbers as well (what protobufjs gives for small values). */
const long = (n: number) => n as never;

const event = (eventType: number, attributes: Partial<Event> = {}): Event => ({ eventType, ...attributes });

describe("a run's Temporal Cloud actions, counted from its histories", () => {
  test('by the mapping of docs.temporal.io/cloud/actions', () => {
    const events: Event[] = [
      event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
      event(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, { eventId: long(4) }),
      // Two local activities in one workflow task: one action.
      event(EventType.EVENT_TYPE_MARKER_RECORDED, {
        markerRecordedEventAttributes: { workflowTaskCompletedEventId: long(4) },
      }),
      event(EventType.EVENT_TYPE_MARKER_RECORDED, {
        markerRecordedEventAttributes: { workflowTaskCompletedEventId: long(4) },
      }),
      event(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES),
      event(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
      // Its third attempt: two retries.
      event(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED, { activityTaskStartedEventAttributes: { attempt: 3 } }),
      event(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED),
      event(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, {
        eventId: long(9),
        workflowTaskCompletedEventAttributes: { meteringMetadata: { nonfirstLocalActivityExecutionAttempts: long(1) } },
      }),
      event(EventType.EVENT_TYPE_MARKER_RECORDED, {
        markerRecordedEventAttributes: { workflowTaskCompletedEventId: long(9) },
      }),
      event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
      event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
      event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED),
      event(EventType.EVENT_TYPE_TIMER_STARTED),
      event(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
      // Not billed: workflow tasks themselves, completions, the close.
      event(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
      event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED),
    ];
    expect(actionsOf(events)).toEqual({
      'workflow started': 1,
      'activity scheduled': 1,
      'activity retried': 2,
      'local activities (per workflow task)': 2,
      'local activity retried': 1,
      signal: 1,
      update: 1,
      'search attribute upsert': 1,
      timer: 1,
      'child workflow': 2,
      'workflow options updated': 0,
    });

    const tally = addHistory({ events }, emptyTally());
    addHistory({ events: events.slice(0, 1) }, tally);
    expect(tally.workflows).toBe(2);
    expect(tally.events).toBe(events.length + 1);
    expect(tally.eventsByType.MARKER_RECORDED).toBe(3);
    expect(tally.eventsByType.WORKFLOW_EXECUTION_STARTED).toBe(2);
    expect(tally.bytes).toBeGreaterThan(0);
    expect(totalActions(tally)).toBe(13 + 1);
  });
});
