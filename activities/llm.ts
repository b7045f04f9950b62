/**
 * One OpenAI-compatible client per endpoint, keys read from the worker's environment at call time
 * (so a fixed key is picked up without restarting), SDK retries off so Temporal owns every retry.
 */
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ChatMessage } from '../core/chat';
import type { ServerWord } from '../core/in-flight-limit';
import { SIM_BASE_URL, type LlmEndpoint, type LlmRole } from '../core/endpoints';
import type { Usage } from '../core/usage';
import { LlmFailure } from '../core/llm-failures';
import { classifyLlmError } from './llm-errors';
import { CallGate } from './call-gate';
import type { SpendTag } from '../core/dataset';
import { askServer } from './server-word';

export interface Completion {
  text: string;
  usage: Usage;
  model: string;
}

/** A JSON schema the answer must follow (OpenAI's `response_format: { type: 'json_schema' }`). */
export interface JsonSchemaFormat {
  name: string;
  strict: boolean;
  schema: Readonly<Record<string, unknown>>;
}

export interface CompleteOptions {
  /** Ask for a structured answer where the endpoint takes one; plain text otherwise. */
  jsonSchema?: JsonSchemaFormat;
  /** A dataset run's call: counted against its budget as it ends (activities/call-gate.ts). */
  spend?: SpendTag;
}

/** How a JSON schema is put in a request: OpenAI's way, llama-cpp-python's way, or not at all. */
type SchemaStyle = 'json_schema' | 'json_object' | 'text';

export function withSchema(
  request: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
  style: SchemaStyle,
  format: JsonSchemaFormat | undefined,
): OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming {
  if (!format || style === 'text') return request;
  if (style === 'json_schema') return { ...request, response_format: { type: 'json_schema', json_schema: format } };
  // llama-cpp-python's server: `json_object` constrained by a `schema` (not part of OpenAI's type).
  const responseFormat = { type: 'json_object', schema: format.schema } as unknown as { type: 'json_object' };
  return { ...request, response_format: responseFormat };
}

/** The chat-completion request `complete` sends an endpoint (before any JSON schema), and a Batch API row holds. */
export function chatRequestOf(
  endpoint: LlmEndpoint,
  messages: ChatMessage[],
): OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming {
  return {
    model: endpoint.model,
    messages,
    temperature: endpoint.temperature,
    max_tokens: endpoint.maxTokens,
    ...(endpoint.topP !== undefined ? { top_p: endpoint.topP } : {}),
  };
}

/**
 * The server would not take our `response_format`: a 400 or 422 about it, or (llama-cpp-python) a 500 whose message
 * is a validation error about it.
 */
function refusedResponseFormat(err: unknown): boolean {
  const refusal =
    err instanceof OpenAI.BadRequestError ||
    err instanceof OpenAI.UnprocessableEntityError ||
    err instanceof OpenAI.InternalServerError;
  return refusal && /response_format|json_schema|json_object/i.test(err.message);
}

/** Roles in error messages: the three of Evol-Instruct and Auto Evol-Instruct's optimizer. */
export type CallRole = LlmRole | 'optimizer';

export interface LlmGatewayOptions {
  /** Where API keys are read from; re-read on every call. Default: process.env. */
  env?: () => NodeJS.ProcessEnv;
  /** Resolves `sim://local` to the URL of a simulated LLM; required only when a role uses it. */
  simulatedBaseUrl?: () => Promise<string>;
}

/** Used when no key is set: local servers (Ollama, vLLM, llama.cpp) ignore it, real APIs answer 401. */
const NO_KEY = 'no-key-set';

export class LlmGateway {
  private readonly clients = new Map<string, OpenAI>();
  /**
   * How each endpoint (base URL and model) takes a JSON schema, learned from its first refusal: OpenAI's
   * `json_schema`, llama-cpp-python's `json_object` with a `schema`, or not at all (plain text from then on).
   */
  private readonly schemaStyles = new Map<string, SchemaStyle>();
  private readonly env: () => NodeJS.ProcessEnv;
  /** Budgets and rate limits, in front of every call this worker makes (Batch API activities count through it). */
  readonly gate = new CallGate();
  /** What each server (by its base URL) says of itself, asked before its first call; asked again if unreachable. */
  private readonly words = new Map<string, Promise<ServerWord | undefined>>();

  constructor(private readonly options: LlmGatewayOptions = {}) {
    this.env = options.env ?? (() => process.env);
  }

  private async client(endpoint: LlmEndpoint, apiKey: string): Promise<OpenAI> {
    const baseURL =
      endpoint.baseURL === SIM_BASE_URL ? await this.requireSimulated() : endpoint.baseURL.replace(/\/+$/, '');
    const cacheKey = `${baseURL}\u0000${apiKey}\u0000${endpoint.requestTimeoutMs}`;
    let client = this.clients.get(cacheKey);
    if (!client) {
      client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: endpoint.requestTimeoutMs });
      this.clients.set(cacheKey, client);
    }
    return client;
  }

  /** The endpoint's client with its key from the worker's environment (the Batch API's calls use it too). */
  async openAiClient(endpoint: LlmEndpoint): Promise<{ client: OpenAI; apiKey: string }> {
    const apiKey = this.env()[endpoint.apiKeyEnv] || NO_KEY;
    return { client: await this.client(endpoint, apiKey), apiKey };
  }

  /** What the endpoint's server says of itself, or undefined while it cannot be reached (asked again next call). */
  private async wordOf(endpoint: LlmEndpoint, apiKey: string): Promise<ServerWord | undefined> {
    // The built-in simulated LLM serves every request at once, and says nothing.
    if (endpoint.baseURL === SIM_BASE_URL) return {};
    const root = endpoint.baseURL.replace(/\/+$/, '');
    let word = this.words.get(root);
    if (!word) {
      word = askServer(root, apiKey === NO_KEY ? undefined : apiKey).then(({ word, reached }) => {
        if (!reached) this.words.delete(root);
        return reached ? word : undefined;
      });
      this.words.set(root, word);
    }
    return word;
  }

  private async requireSimulated(): Promise<string> {
    if (!this.options.simulatedBaseUrl) throw new Error('this worker has no simulated LLM configured');
    return this.options.simulatedBaseUrl();
  }

  /**
   * One chat completion. Throws an ApplicationFailure classified for Temporal's retry policy. With a JSON schema, an
   * endpoint that refuses one way of asking for it (see refusedResponseFormat) is asked the next way in the same
   * call: `json_schema`, then `json_object` with a schema, then plain text.
   */
  async complete(
    role: CallRole,
    endpoint: LlmEndpoint,
    messages: ChatMessage[],
    options: CompleteOptions = {},
  ): Promise<Completion> {
    const sinceMs = Date.now();
    const apiKey = this.env()[endpoint.apiKeyEnv] || NO_KEY;
    const ctx = { role, endpoint, apiKey };
    const endpointKey = `${endpoint.baseURL}\u0000${endpoint.model}`;
    const wantsSchema = options.jsonSchema !== undefined && endpoint.structuredOutput !== false;
    const pass = await this.gate.admit(
      endpoint,
      messages.reduce((n, m) => n + m.content.length, 0),
      options.spend,
      { role, key: callKey(role, endpoint, messages), word: await this.wordOf(endpoint, apiKey), sinceMs },
    );
    const sentAt = Date.now();
    let response: OpenAI.Chat.Completions.ChatCompletion;
    try {
      const client = await this.client(endpoint, apiKey);
      const request = chatRequestOf(endpoint, messages);
      let style: SchemaStyle = wantsSchema ? (this.schemaStyles.get(endpointKey) ?? 'json_schema') : 'text';
      for (;;) {
        try {
          const answered = await client.chat.completions
            .create(withSchema(request, style, options.jsonSchema))
            .withResponse();
          response = answered.data;
          pass.settle({ usage: usageOf(response), headers: answered.response.headers });
          break;
        } catch (err) {
          if (style === 'text' || !refusedResponseFormat(err)) throw err;
          style = style === 'json_schema' ? 'json_object' : 'text';
          this.schemaStyles.set(endpointKey, style);
        }
      }
    } catch (err) {
      const apiError = err instanceof OpenAI.APIError ? err : undefined;
      pass.settle({
        headers: apiError?.headers,
        status: apiError?.status,
        // Out for its whole timeout: the SDK's kind of error is not always telling (another realm's AbortError).
        timedOut: err instanceof OpenAI.APIConnectionTimeoutError || Date.now() - sentAt >= endpoint.requestTimeoutMs,
      });
      throw classifyLlmError(err, ctx);
    }
    const choice = response?.choices?.[0];
    const text = choice?.message?.content ?? '';
    if (!text.trim()) {
      throw ApplicationFailure.create({
        type: LlmFailure.EmptyCompletion,
        message: `the ${role} LLM returned ${response?.choices?.length ? 'an empty message' : 'no choices'} (model "${endpoint.model}")`,
        nonRetryable: false,
      });
    }
    return { text, model: response.model ?? endpoint.model, usage: usageOf(response) };
  }
}

/** Names a call across the times its workflow asks it (the same request of the same workflow). */
function callKey(role: CallRole, endpoint: LlmEndpoint, messages: ChatMessage[]): string {
  let workflowId = '';
  try {
    workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
  } catch {
    // Outside an activity: the request alone names it.
  }
  return createHash('sha256')
    .update(JSON.stringify([workflowId, role, endpoint.model, messages]))
    .digest('hex')
    .slice(0, 24);
}

/** A completion's usage, with the prompt tokens served from the provider's cache when it says so. */
function usageOf(response: OpenAI.Chat.Completions.ChatCompletion | undefined): Usage {
  const usage = response?.usage;
  const cached = usage?.prompt_tokens_details?.cached_tokens;
  return {
    promptTokens: usage?.prompt_tokens ?? 0,
    completionTokens: usage?.completion_tokens ?? 0,
    totalTokens: usage?.total_tokens ?? (usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0),
    ...(cached ? { cachedPromptTokens: cached } : {}),
  };
}
