/**
 * Failure types raised by EvolForge's LLM activities, and the details of a held call (not a fault: it waits in its
 * workflow), typed once here and read by both sides.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';

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
} as const;

/** Failures that retrying cannot fix: the run must stop until the setting is corrected. */
export const NON_RETRYABLE_LLM_FAILURES: string[] = [
  LlmFailure.Authentication,
  LlmFailure.PermissionDenied,
  LlmFailure.NotFound,
  LlmFailure.BadRequest,
];

/** After every retry, these mean the model's output was unusable: the evolution failed, the run goes on. */
export const UNUSABLE_OUTPUT_FAILURES: string[] = [LlmFailure.UnusableCompletion, LlmFailure.EmptyCompletion];

/** A call held by its endpoint's rate limit: how long its workflow waits before asking again. */
export interface RateLimitWaitDetails {
  waitMs: number;
}

/** A call held by its run's budget: the run's resume count when it was reached (a later resume raises it). */
export interface BudgetHoldDetails {
  resumes: number;
}

/** The failure a call held by its endpoint's rate limit ends with (a dataset run's call waits in its workflow). */
export function rateLimitWaitFailure(message: string, details: RateLimitWaitDetails): ApplicationFailure {
  return ApplicationFailure.create({ type: LlmFailure.RateLimitWait, message, nonRetryable: true, details: [details] });
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

/** The resume count a call held by its run's budget carries, or undefined for any other error. */
export function budgetHoldOf(err: unknown): BudgetHoldDetails | undefined {
  const failure = failureOfType(err, LlmFailure.BudgetReached);
  return failure && heldDetails<BudgetHoldDetails>(failure, 'resumes');
}
