/**
 * The signals and query of Batch API mode (beside core/messages.ts, which holds the other workflows'): instruction
 * workflows queue calls with the run's batcher workflow and hear back when a call's answer is in the run store.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { BatcherStatus, QueuedCall } from './batch';

/** A call for the next batch (sent with signal-with-start by the activity that stores its request). */
export const enqueueBatchCallSignal = defineSignal<[Omit<QueuedCall, 'failures' | 'queuedAtMs'>]>('enqueueBatchCall');

/**
 * To the instruction workflow that waits for the call: its answer is in the run store (`done`), or it is to be asked
 * online (`online`: the row failed in its batches, or the batch could not be sent).
 */
export const batchResultSignal =
  defineSignal<[{ customId: string; outcome: 'done' | 'online'; reason?: string }]>('batchResult');

/** The batcher's open batches and queue, for `evol status`. */
export const batchesQuery = defineQuery<BatcherStatus>('batches');
