/** A held call's details are typed once (core/llm-failures.ts): written by the activities, read by the workflows. */
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import {
  budgetHoldFailure,
  budgetHoldOf,
  LlmFailure,
  rateLimitWaitFailure,
  rateLimitWaitOf,
  slotWaitFailure,
  slotWaitOf,
} from '../../core/llm-failures';

/** As a workflow sees an activity's failure: wrapped in an ActivityFailure. */
const asActivityFailure = (cause: Error) =>
  new ActivityFailure('activity failed', 'mutate', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker', cause);

describe('held calls', () => {
  test('what the activity writes is what the workflow reads, for either hold', () => {
    const wait = asActivityFailure(rateLimitWaitFailure('held 3 s', { waitMs: 3000 }));
    const budget = asActivityFailure(budgetHoldFailure('budget reached', { resumes: 2 }));
    expect(rateLimitWaitOf(wait)).toEqual({ waitMs: 3000 });
    expect(budgetHoldOf(budget)).toEqual({ resumes: 2 });
    expect(rateLimitWaitOf(budget)).toBeUndefined();
    expect(budgetHoldOf(wait)).toBeUndefined();
  });

  test('a call held by the calls before it at its endpoint: its workflow waits, or Temporal retries it after the wait; either way it is no fault', () => {
    const inWorkflow = slotWaitFailure('taken by the calls before this one', { waitMs: 7000 }, true);
    const retried = slotWaitFailure('taken by the calls before this one', { waitMs: 7000 }, false);
    expect(slotWaitOf(asActivityFailure(inWorkflow))).toEqual({ waitMs: 7000 });
    expect(inWorkflow).toMatchObject({ nonRetryable: true, category: 'BENIGN' });
    expect(retried).toMatchObject({ nonRetryable: false, nextRetryDelay: 7000, category: 'BENIGN' });
    expect(rateLimitWaitOf(asActivityFailure(inWorkflow))).toBeUndefined();
    expect(slotWaitOf(asActivityFailure(rateLimitWaitFailure('held', { waitMs: 1 })))).toBeUndefined();
  });

  test('any other failure is not a held call', () => {
    const fault = asActivityFailure(ApplicationFailure.create({ type: LlmFailure.ServerError, message: '503' }));
    expect(rateLimitWaitOf(fault)).toBeUndefined();
    expect(budgetHoldOf(new Error('boom'))).toBeUndefined();
  });

  test('a held call without its details fails the workflow, naming what it got, instead of inventing a wait', () => {
    const bare = asActivityFailure(
      ApplicationFailure.create({ type: LlmFailure.RateLimitWait, message: 'held', nonRetryable: true }),
    );
    expect(() => rateLimitWaitOf(bare)).toThrow(/a RateLimitWait failure without its waitMs: null/);
  });
});
