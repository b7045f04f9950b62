/**
 * What can go wrong with a store that is not the data's fault, in two kinds: one that retrying cannot fix (wrong or
 * missing credentials, no such bucket, no permission: a person must change a setting) and one that passes (the
 * server restarting, overloaded, or slow). Both say what to do; the activities pause a run on the first kind
 * (activities/store-guard.ts) and let Temporal retry the second.
 */
import { UserError } from '../core/validation';

/** The failure type activities give a StoreAccessError, so workflows and commands can tell it apart. */
export const STORE_ACCESS_FAILURE = 'StoreAccessError';
export const STORE_UNREACHABLE_FAILURE = 'StoreUnreachableError';

/** A setting is wrong: retrying changes nothing until someone fixes it. The message says what to fix. */
export class StoreAccessError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = STORE_ACCESS_FAILURE;
  }
}

/** The store did not answer, or answered that it is busy: it may well answer on a later try. */
export class StoreUnreachableError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = STORE_UNREACHABLE_FAILURE;
  }
}
