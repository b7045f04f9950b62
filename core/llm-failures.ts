/**
 * Failure types raised by EvolForge's LLM activities, and the details of a held call (not a fault: it waits in its
 * workflow), typed once here and read by both sides.
 */
import { ActivityFailure, ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';

export const LlmFailure = {
  Authentication: 'LlmAuthenticationError',
  PermissionDenied: 'LlmPermissionDeniedError',
  NotFound: 'LlmNotFoundError',
  BadRequest: 'LlmBadRequestError',
  RateLimited: 'LlmRateLimitedError',
  ServerError: 'LlmServerError',
  Timeout: 'LlmTimeoutError',
  Connection: 'LlmConnectionError',
  EmptyCompletion: 'LlmEmptyCompletionError',
  UnusableCompletion: 'LlmUnusableCompletionError',
  Unexpected: 'LlmUnexpectedError',
  /** Not a fault: the run's budget is reached, and the call waits (in its workflow) for a resume that raises it. */
  BudgetReached: 'BudgetReached',
  /** Not a fault: the endpoint's rate limit has no room for a while, and the call waits in its workflow, then goes. */
  RateLimitWait: 'RateLimitWait',
  /**
   * Not a fault: the endpoint serves a few requests at once and the calls before this one fill them for a while; the
   * call waits in its workflow (a dataset run's), or Temporal retries it after the wait (any other), then goes.
   */
  SlotWait: 'SlotWait',
} as const;

/**
 * Longest a call waits at its worker's gate (its endpoint's rate limits and requests in flight) inside its activity;
 * its request, and the request's timeout, start after. The LLM activities' start-to-close timeout allows for it.
 */
export const MAX_GATE_WAIT_MS = 10_000;

/** Failures that retrying cannot fix: the run must stop until the setting is corrected. */
export const NON_RETRYABLE_LLM_FAILURES: string[] = [
  LlmFailure.Authentication,
  LlmFailure.PermissionDenied,
  LlmFailure.NotFound,
  LlmFailure.BadRequest,
];

/** After every retry, these mean the model's output was unusable: the evolution failed, the run goes on. */
export const UNUSABLE_OUTPUT_FAILURES: string[] = [LlmFailure.UnusableCompletion, LlmFailure.EmptyCompletion];

/** A call held by its endpoint's rate limit or requests in flight: how long its workflow waits before asking again. */
export interface RateLimitWaitDetails {
  waitMs: number;
}
export type SlotWaitDetails = RateLimitWaitDetails;

/** A call held by its run's budget: the run's resume count when it was reached (a later resume raises it). */
export interface BudgetHoldDetails {
  resumes: number;
}

/** The failure a call held by its endpoint's rate limit ends with (a dataset run's call waits in its workflow). */
export function rateLimitWaitFailure(message: string, details: RateLimitWaitDetails): ApplicationFailure {
  return ApplicationFailure.create({ type: LlmFailure.RateLimitWait, message, nonRetryable: true, details: [details] });
}

/**
 * The failure a call ends with when the requests before it fill its endpoint for longer than the gate waits: a
 * dataset run's call (`inWorkflow`) waits in its workflow; any other is retried by Temporal after the wait.
 */
export function slotWaitFailure(message: string, details: SlotWaitDetails, inWorkflow: boolean): ApplicationFailure {
  return ApplicationFailure.create({
    type: LlmFailure.SlotWait,
    message,
    nonRetryable: inWorkflow,
    ...(inWorkflow ? {} : { nextRetryDelay: details.waitMs }),
    details: [details],
    // Expected, not a fault: the worker logs it at DEBUG, not as a failed activity.
    category: ApplicationFailureCategory.BENIGN,
  });
}

/** The failure a call held by its run's budget ends with: the workflow waits for a resume that raises it. */
export function budgetHoldFailure(message: string, details: BudgetHoldDetails): ApplicationFailure {
  return ApplicationFailure.create({ type: LlmFailure.BudgetReached, message, nonRetryable: true, details: [details] });
}

/** The failure of this type under an activity's failure (or as it is), or undefined for any other error. */
function failureOfType(err: unknown, type: string): ApplicationFailure | undefined {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure && failure.type === type ? failure : undefined;
}

/** A held call's details, checked: a held call that lacks them fails the workflow, naming what it got. */
function heldDetails<T>(failure: ApplicationFailure, field: keyof T & string): T {
  const [details] = failure.details ?? [];
  if (
    typeof details === 'object' &&
    details !== null &&
    typeof (details as Record<string, unknown>)[field] === 'number'
  ) {
    return details as T;
  }
  throw ApplicationFailure.nonRetryable(
    `a ${failure.type} failure without its ${field}: ${JSON.stringify(failure.details ?? null)}`,
    'MalformedHeldCall',
  );
}

/** How long a call held by its endpoint's rate limit waits, or undefined for any other error. */
export function rateLimitWaitOf(err: unknown): RateLimitWaitDetails | undefined {
  const failure = failureOfType(err, LlmFailure.RateLimitWait);
  return failure && heldDetails<RateLimitWaitDetails>(failure, 'waitMs');
}

/** How long a call the requests before it held at its endpoint waits, or undefined for any other error. */
export function slotWaitOf(err: unknown): SlotWaitDetails | undefined {
  const failure = failureOfType(err, LlmFailure.SlotWait);
  return failure && heldDetails<SlotWaitDetails>(failure, 'waitMs');
}

/** The resume count a call held by its run's budget carries, or undefined for any other error. */
export function budgetHoldOf(err: unknown): BudgetHoldDetails | undefined {
  const failure = failureOfType(err, LlmFailure.BudgetReached);
  return failure && heldDetails<BudgetHoldDetails>(failure, 'resumes');
}
