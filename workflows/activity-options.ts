/**
 * Timeouts and retry policies of the LLM activities, in one place.
 * - start-to-close: the HTTP request's own timeout, plus the longest a call waits at its worker's gate before its
 *   request goes (MAX_GATE_WAIT_MS: the endpoint's rate limits and requests in flight), plus a margin, so the SDK call
 *   times out first and its error is classified (LlmTimeoutError) rather than lost to an activity timeout.
 * - retries: exponential from 2 s to 2 min, 10 attempts (about 10 minutes of a provider outage);
 *   a 429's Retry-After overrides the next delay. Configuration errors (401/403/404/400) are
 *   non-retryable at the source and listed here too, so they fail on the first attempt.
 */
import { proxyActivities, proxyLocalActivities, type RetryPolicy } from '@temporalio/workflow';
import { MAX_GATE_WAIT_MS, NON_RETRYABLE_LLM_FAILURES } from '../core/llm-failures';
import type { Activities } from '../activities';
import type { LlmConfig, LlmRetry } from '../core/endpoints';

export const LLM_RETRY_POLICY: RetryPolicy = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '2m',
  maximumAttempts: 10,
  nonRetryableErrorTypes: NON_RETRYABLE_LLM_FAILURES,
};

/** An LLM activity's start-to-close timeout beyond its request timeout: the wait at the gate, and 5 s to spare. */
export const LLM_TIMEOUT_MARGIN_MS = MAX_GATE_WAIT_MS + 5_000;

export interface LlmActivityOptions {
  /** Shown on each scheduled activity in Temporal UI, e.g. `round 2 · add-constraints`. */
  summary?: string;
  /** Overrides of the retry policy (a run's --llm-attempts, tests). */
  retry?: LlmRetry;
}

export function llmActivities(llm: LlmConfig, { summary, retry = {} }: LlmActivityOptions = {}) {
  const timeoutMs = Math.max(llm.evolver.requestTimeoutMs, llm.responder.requestTimeoutMs, llm.judge.requestTimeoutMs);
  return proxyActivities<Activities>({
    startToCloseTimeout: timeoutMs + LLM_TIMEOUT_MARGIN_MS,
    retry: {
      ...LLM_RETRY_POLICY,
      ...(retry.maximumAttempts ? { maximumAttempts: retry.maximumAttempts } : {}),
      ...(retry.initialIntervalMs ? { initialInterval: retry.initialIntervalMs } : {}),
    },
    ...(summary !== undefined ? { summary } : {}),
  });
}

/** Run-store reads and writes, and starting a workflow: local and quick, so plain retries without a limit. */
const QUICK_RETRY: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' };

/** Run-store reads and writes: local and quick, so short timeouts and plain retries. */
export function storeActivities() {
  return proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: QUICK_RETRY });
}

/**
 * The same reads and writes as local activities: run by the worker inside the workflow task that asks for them, so
 * they cost no round trip through the server (used where an instruction workflow starts and ends).
 */
export function localStoreActivities() {
  return proxyLocalActivities<Activities>({ startToCloseTimeout: '1 minute', retry: QUICK_RETRY });
}

/** Starting an instruction workflow (one RPC to the Temporal server from the worker's client), as a local activity. */
export function localStartActivities() {
  return proxyLocalActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: QUICK_RETRY });
}
