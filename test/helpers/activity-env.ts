/**
 * Temporal's MockActivityEnvironment for unit tests: quiet about the activity failures tests cause on purpose, and
 * with `call`, typed by the activity it runs (`run` infers its arguments from the call, widening literal types, and
 * returns unknown).
 */
import type { Info } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';

export class ActivityEnv extends MockActivityEnvironment {
  /** @param client what the activity context's `client` is (activities that signal or start workflows use it). */
  constructor(info: Partial<Info> = {}, client?: Client) {
    super(info, { client, logger: new DefaultLogger('ERROR') });
  }

  /** Runs `activity` in this environment's context. */
  call<A extends unknown[], R>(activity: (...args: A) => Promise<R>, ...args: A): Promise<R> {
    return this.run<A, R, typeof activity>(activity, ...args);
  }
}
