/**
 * The run store as the activities see it: a store whose settings are wrong (credentials refused, no such bucket, no
 * permission, a full disk) pauses the run it serves, with the store's message saying what to fix, and the activity
 * fails as it would anyway. Temporal retries it with backoff, so once the setting is fixed the next attempt goes on,
 * and `evol resume` lets the run start new work again. Nothing finished is lost: an instruction waits in its
 * recording step until the store takes its record.
 */
import { Context } from '@temporalio/activity';
import { runWorkflowOf } from '../core/ids';
import { pauseSignal } from '../core/messages';
import { StoreAccessError } from '../store/errors';

/** One pause signal per run and worker in this time at most: every activity of the run meets the same error. */
const PAUSE_EVERY_MS = 30_000;
const lastPaused = new Map<string, number>();

async function pauseRunOf(err: StoreAccessError): Promise<void> {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return; // Not in an activity (a test, a command): the error itself is the message.
  }
  const workflowId = context.info.workflowExecution?.workflowId;
  const target = workflowId && runWorkflowOf(workflowId);
  if (!target) return;
  const now = Date.now();
  if (now - (lastPaused.get(target) ?? 0) < PAUSE_EVERY_MS) return;
  lastPaused.set(target, now);
  const runId = /^evol[:-](?:run|auto)[:-](.+)$/.exec(target)?.[1] ?? target;
  const resume = target.includes('auto') ? `evol auto resume ${runId}` : `evol resume ${runId}`;
  try {
    await context.client.workflow
      .getHandle(target)
      .signal(pauseSignal, { reason: `run store error: ${err.message}. Fix it, then run: ${resume}` });
  } catch (signalError) {
    context.log.warn('could not pause the run after a run-store error', { target, error: String(signalError) });
  }
}

function guardIterable<T>(items: AsyncIterable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const iterator = items[Symbol.asyncIterator]();
      return {
        next: () => iterator.next().catch(onError),
        return: (value?: unknown) => iterator.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
      } as AsyncIterator<T>;
    },
  };
}

async function onError(err: unknown): Promise<never> {
  if (err instanceof StoreAccessError) await pauseRunOf(err);
  throw err;
}

/** The same store, every method's failure first passed through {@link onError}. */
export function guardStore<S extends object>(store: S): S {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          if (err instanceof StoreAccessError) void pauseRunOf(err);
          throw err;
        }
        if (result instanceof Promise) return result.catch(onError);
        if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
          return guardIterable(result as AsyncIterable<unknown>);
        }
        return result;
      };
    },
  });
}
