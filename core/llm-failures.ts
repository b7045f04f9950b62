/** Failure types raised by EvolForge's LLM activities; shared by activities and workflows. */
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
