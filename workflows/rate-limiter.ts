/**
 * One endpoint's rate limits, shared by every worker that calls it (see core/rate-limits.ts for the design). It
 * holds leases, never data: which workers call the endpoint, how much each wants, the limits, and how long the
 * provider asked everyone to wait. Started by the first worker that needs it (update-with-start) and ended after
 * ten idle minutes; it continues as new when its history grows long.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  setHandler,
  setWorkflowOptions,
  workflowInfo,
} from '@temporalio/workflow';
import { leaseUpdate } from '../core/messages';
import { emptyLimiterState, grantLease, LIMITER_IDLE_MS, type LimiterState } from '../core/rate-limits';

export async function rateLimiter(initial?: LimiterState): Promise<void> {
  const state = initial ?? emptyLimiterState();
  let leases = 0;
  setHandler(leaseUpdate, (request) => {
    leases++;
    return grantLease(state, request, Date.now());
  });
  for (;;) {
    const before = leases;
    const suggested = await condition(() => workflowInfo().continueAsNewSuggested, LIMITER_IDLE_MS);
    if (suggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof rateLimiter>(state);
    }
    if (leases === before) {
      await condition(allHandlersFinished);
      return;
    }
  }
}

// An endpoint's limiter lives while any run calls the endpoint:
// it moves to the current build at its next workflow task, so a change to this file ships behind patched()
// (docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, rateLimiter);
