import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { classifyLlmError, redactSecrets, retryAfterMs } from '../../activities/llm-errors';
import type { LlmEndpoint } from '../../core/endpoints';

const endpoint: LlmEndpoint = {
  baseURL: 'http://127.0.0.1:9/v1',
  model: 'test-model',
  temperature: 0,
  maxTokens: 10,
  apiKeyEnv: 'MY_PROVIDER_KEY',
  requestTimeoutMs: 1000,
};
const ctx = { role: 'evolver' as const, endpoint, apiKey: 'sk-secret-value-123456' };

function apiError(status: number, headers: Record<string, string> = {}, message = 'boom') {
  return OpenAI.APIError.generate(status, { error: { message } }, message, new Headers(headers));
}

describe('classifying LLM errors for Temporal', () => {
  test.each([
    [400, 'LlmBadRequestError', true],
    [401, 'LlmAuthenticationError', true],
    [403, 'LlmPermissionDeniedError', true],
    [404, 'LlmNotFoundError', true],
    [422, 'LlmBadRequestError', true],
    [429, 'LlmRateLimitedError', false],
    [500, 'LlmServerError', false],
    [503, 'LlmServerError', false],
  ])('status %d becomes %s (non-retryable: %s)', (status, type, nonRetryable) => {
    const failure = classifyLlmError(apiError(status), ctx);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe(type);
    expect(failure.nonRetryable).toBe(nonRetryable);
  });

  test('a 401 names the key setting to fix and never the key', () => {
    const failure = classifyLlmError(apiError(401, {}, 'Incorrect API key provided: sk-secret-value-123456'), ctx);
    expect(failure.message).toContain('MY_PROVIDER_KEY');
    expect(failure.message).not.toContain('sk-secret-value-123456');
  });

  test('a 404 says to check the model and base URL', () => {
    expect(classifyLlmError(apiError(404), ctx).message).toMatch(/model name or the base URL/);
  });

  test('a 429 honours Retry-After as the next retry delay', () => {
    const failure = classifyLlmError(apiError(429, { 'retry-after': '7' }), ctx);
    expect(failure.nextRetryDelay).toBe(7000);
  });

  test('retry-after-ms wins over retry-after', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '1500', 'retry-after': '9' }))).toBe(1500);
  });

  test('an HTTP-date Retry-After is turned into a delay', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, now)).toBe(5000);
  });

  test('timeouts and connection errors are retryable with their own types', () => {
    const timeout = classifyLlmError(new OpenAI.APIConnectionTimeoutError(), ctx);
    expect([timeout.type, timeout.nonRetryable]).toEqual(['LlmTimeoutError', false]);
    const conn = classifyLlmError(new OpenAI.APIConnectionError({ message: 'ECONNRESET' }), ctx);
    expect([conn.type, conn.nonRetryable]).toEqual(['LlmConnectionError', false]);
  });

  test('anything else is retryable and says what failed', () => {
    const failure = classifyLlmError(new SyntaxError('Unexpected end of JSON input'), ctx);
    expect([failure.type, failure.nonRetryable]).toEqual(['LlmUnexpectedError', false]);
    expect(failure.message).toContain('Unexpected end of JSON input');
  });

  test('partly masked keys echoed by providers are redacted too', () => {
    expect(redactSecrets('Incorrect API key provided: sk-abc1***********wxyz.', [])).not.toMatch(/sk-abc1/);
  });
});
