/**
 * Turns the openai SDK's typed errors into Temporal failures: configuration mistakes fail at once
 * (non-retryable, with a message that says what to fix); rate limits, server errors, timeouts and
 * dropped connections are retried by Temporal, honouring Retry-After.
 */
import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { LlmFailure } from '../core/llm-failures';
import type { LlmEndpoint } from '../core/endpoints';

/** Masks API keys in text that may reach a history or a log. */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  // Providers echo partly masked keys ("sk-abc***xyz"): hide those too.
  return out.replace(/\b(sk|key|api)[-_][A-Za-z0-9*_-]{6,}/gi, '[redacted]');
}

/** Seconds or milliseconds the server asked us to wait, from retry-after-ms / retry-after. */
export function retryAfterMs(
  headers: Headers | Record<string, string> | undefined,
  now = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const get = (name: string): string | null | undefined =>
    headers instanceof Headers ? headers.get(name) : (headers as Record<string, string>)[name];
  const ms = Number(get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

interface CallContext {
  /** Named in messages only: evolver, responder, judge, optimizer. */
  role: string;
  endpoint: LlmEndpoint;
  apiKey?: string;
}

function where(ctx: CallContext): string {
  return `the ${ctx.role} LLM (model "${ctx.endpoint.model}" at ${ctx.endpoint.baseURL})`;
}

function failure(type: string, message: string, ctx: CallContext, nonRetryable: boolean, delayMs?: number) {
  return ApplicationFailure.create({
    type,
    message: redactSecrets(message, [ctx.apiKey]),
    nonRetryable,
    nextRetryDelay: delayMs !== undefined ? Math.max(1, Math.round(delayMs)) : undefined,
  });
}

export function classifyLlmError(err: unknown, ctx: CallContext): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const key = ctx.endpoint.apiKeyEnv;
  const detail = err instanceof Error ? err.message : String(err);
  if (err instanceof OpenAI.AuthenticationError) {
    return failure(
      LlmFailure.Authentication,
      `${where(ctx)} rejected the API key (401). Set ${key} in the worker's environment to a valid key for ${ctx.endpoint.baseURL}, then resume. Server said: ${detail}`,
      ctx,
      true,
    );
  }
  if (err instanceof OpenAI.PermissionDeniedError) {
    return failure(
      LlmFailure.PermissionDenied,
      `${where(ctx)} refused access (403): the key in ${key} may not use model "${ctx.endpoint.model}". Use a key or model that is allowed. Server said: ${detail}`,
      ctx,
      true,
    );
  }
  if (err instanceof OpenAI.NotFoundError) {
    return failure(
      LlmFailure.NotFound,
      `${where(ctx)} answered 404: the model name or the base URL is wrong. Check the ${ctx.role} model and base URL (they usually end in /v1). Server said: ${detail}`,
      ctx,
      true,
    );
  }
  if (err instanceof OpenAI.BadRequestError || err instanceof OpenAI.UnprocessableEntityError) {
    return failure(
      LlmFailure.BadRequest,
      `${where(ctx)} rejected the request (${(err as InstanceType<typeof OpenAI.APIError>).status}): check the ${ctx.role} settings (max tokens, temperature, model). Server said: ${detail}`,
      ctx,
      true,
    );
  }
  if (err instanceof OpenAI.RateLimitError) {
    return failure(
      LlmFailure.RateLimited,
      `${where(ctx)} is rate limiting (429): ${detail}`,
      ctx,
      false,
      retryAfterMs(err.headers),
    );
  }
  if (err instanceof OpenAI.APIConnectionTimeoutError) {
    return failure(
      LlmFailure.Timeout,
      `${where(ctx)} did not answer within ${ctx.endpoint.requestTimeoutMs} ms`,
      ctx,
      false,
    );
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return failure(LlmFailure.Connection, `could not reach ${where(ctx)}: ${detail}`, ctx, false);
  }
  if (err instanceof OpenAI.APIError) {
    return failure(
      LlmFailure.ServerError,
      `${where(ctx)} failed with status ${err.status ?? 'unknown'}: ${detail}`,
      ctx,
      false,
      retryAfterMs(err.headers),
    );
  }
  return failure(LlmFailure.Unexpected, `calling ${where(ctx)} failed: ${detail}`, ctx, false);
}
