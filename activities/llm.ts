/**
 * One OpenAI-compatible client per endpoint, keys read from the worker's environment at call time
 * (so a fixed key is picked up without restarting), SDK retries off so Temporal owns every retry.
 */
import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import type { ChatMessage } from '../core/messages';
import { SIM_BASE_URL, type LlmEndpoint, type LlmRole, type Usage } from '../core/schemas';
import { LlmFailure } from '../core/llm-failures';
import { classifyLlmError } from './llm-errors';

export interface Completion {
  text: string;
  usage: Usage;
  model: string;
}

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
  private readonly env: () => NodeJS.ProcessEnv;

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

  private async requireSimulated(): Promise<string> {
    if (!this.options.simulatedBaseUrl) throw new Error('this worker has no simulated LLM configured');
    return this.options.simulatedBaseUrl();
  }

  /** One chat completion. Throws an ApplicationFailure classified for Temporal's retry policy. */
  async complete(role: LlmRole, endpoint: LlmEndpoint, messages: ChatMessage[]): Promise<Completion> {
    const apiKey = this.env()[endpoint.apiKeyEnv] || NO_KEY;
    const ctx = { role, endpoint, apiKey };
    let response: OpenAI.Chat.Completions.ChatCompletion;
    try {
      const client = await this.client(endpoint, apiKey);
      response = await client.chat.completions.create({
        model: endpoint.model,
        messages,
        temperature: endpoint.temperature,
        max_tokens: endpoint.maxTokens,
      });
    } catch (err) {
      throw classifyLlmError(err, ctx);
    }
    const text = response?.choices?.[0]?.message?.content ?? '';
    if (!text.trim()) {
      throw ApplicationFailure.create({
        type: LlmFailure.EmptyCompletion,
        message: `the ${role} LLM returned ${response?.choices?.length ? 'an empty message' : 'no choices'} (model "${endpoint.model}")`,
        nonRetryable: false,
      });
    }
    const usage = response.usage;
    return {
      text,
      model: response.model ?? endpoint.model,
      usage: {
        promptTokens: usage?.prompt_tokens ?? 0,
        completionTokens: usage?.completion_tokens ?? 0,
        totalTokens: usage?.total_tokens ?? (usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0),
      },
    };
  }
}
