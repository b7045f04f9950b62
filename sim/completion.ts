/** Parsing chat-completion requests and building the replies, in the OpenAI wire format. */
import { createHash } from 'node:crypto';
import { ChatMessage } from '../core/chat';

/** Every reply carries this `created` time, so replies are byte-for-byte reproducible. */
export const SIM_CREATED = 1_700_000_000;

export const DEFAULT_SIM_MODEL = 'sim-1';

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  includeUsageInStream: boolean;
  /** The string-enum fields of a JSON schema asked for in `response_format` (the judge's answer), in order, if any. */
  jsonEnumFields?: Array<{ name: string; values: string[] }>;
}

/** Text of a message content: a string, an array of content parts, or null (tool calls). */
function contentText(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string'
          ? (part as { text: string }).text
          : '',
      )
      .join('\n');
  }
  return null;
}

function roleOf(role: string): ChatMessage['role'] {
  if (role === 'system' || role === 'developer') return 'system';
  if (role === 'assistant') return 'assistant';
  return 'user';
}

/** The request, or a message saying why it is not a chat-completion request. */
export function parseChatRequest(body: unknown): ChatRequest | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the request body must be a JSON object';
  const fields = body as Record<string, unknown>;
  if (!Array.isArray(fields.messages) || fields.messages.length === 0) {
    return "'messages' must be a non-empty array";
  }
  const messages: ChatMessage[] = [];
  for (const [index, message] of fields.messages.entries()) {
    const role = message && typeof message === 'object' ? (message as { role?: unknown }).role : undefined;
    const content = typeof role === 'string' ? contentText((message as { content?: unknown }).content) : null;
    if (typeof role !== 'string' || content === null) {
      return `'messages[${index}]' must have a string role and a string or array content`;
    }
    messages.push({ role: roleOf(role), content });
  }
  const model = typeof fields.model === 'string' && fields.model.length > 0 ? fields.model : DEFAULT_SIM_MODEL;
  const streamOptions = fields.stream_options as { include_usage?: unknown } | undefined;
  const jsonEnumFields = enumFieldsOf(fields.response_format);
  return {
    model,
    messages,
    stream: fields.stream === true,
    includeUsageInStream: streamOptions?.include_usage === true,
    ...(jsonEnumFields ? { jsonEnumFields } : {}),
  };
}

/**
 * `{type: 'json_schema', json_schema: {schema: {properties: {verdict: {enum: [...]}, ...}}}}` (OpenAI's way) or
 * `{type: 'json_object', schema: {...}}` (llama-cpp-python's) gives each field and its values, when every field is a
 * string enum.
 */
function enumFieldsOf(format: unknown): ChatRequest['jsonEnumFields'] {
  const spec = format as {
    type?: unknown;
    schema?: { properties?: Record<string, unknown> };
    json_schema?: { schema?: { properties?: Record<string, unknown> } };
  };
  const schema =
    spec?.type === 'json_schema' ? spec.json_schema?.schema : spec?.type === 'json_object' ? spec.schema : undefined;
  const properties = Object.entries(schema?.properties ?? {});
  if (properties.length === 0) return undefined;
  const fields = properties.map(([name, property]) => ({ name, values: (property as { enum?: unknown })?.enum }));
  return fields.every((f) => Array.isArray(f.values) && f.values.every((v) => typeof v === 'string'))
    ? (fields as Array<{ name: string; values: string[] }>)
    : undefined;
}

/** sha256 hex of `JSON.stringify({ model, messages })` with messages as `{ role, content }`. */
export function requestKey(model: string, messages: readonly ChatMessage[]): string {
  const plain = messages.map((m) => ({ role: m.role, content: m.content }));
  return createHash('sha256')
    .update(JSON.stringify({ model, messages: plain }))
    .digest('hex');
}

export function approximateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

export function promptTokens(messages: readonly ChatMessage[]): number {
  return Math.max(1, approximateTokens(messages.reduce((sum, m) => sum + m.content.length, 0)));
}

/** With `cachedTokens` (a number, 0 included), the usage carries `prompt_tokens_details`. */
export function usageFor(messages: readonly ChatMessage[], content: string, cachedTokens?: number): CompletionUsage {
  const prompt = promptTokens(messages);
  const completion = approximateTokens(content.length);
  const usage: CompletionUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
  if (cachedTokens !== undefined) usage.prompt_tokens_details = { cached_tokens: cachedTokens };
  return usage;
}

/** How many prompts the cache remembers; the oldest are forgotten first. */
const PROMPT_CACHE_ENTRIES = 100_000;

/**
 * OpenAI's prompt caching, simplified: a request's messages but the last are cached when an earlier request (same
 * model) began with exactly those messages. Remembers a hash per message prefix.
 */
export class PromptCache {
  private readonly seen = new Set<string>();

  constructor(private readonly minTokens = 1024) {}

  /** The cached prompt tokens of this request, and remembers its prefixes. */
  cachedTokens(model: string, messages: readonly ChatMessage[]): number {
    const hashes: string[] = [];
    let hash = createHash('sha256').update(model).digest('hex');
    for (const m of messages) {
      hash = createHash('sha256')
        .update(JSON.stringify([hash, m.role, m.content]))
        .digest('hex');
      hashes.push(hash);
    }
    const leading = messages.length > 1 && this.seen.has(hashes[messages.length - 2]);
    for (const h of hashes) this.remember(h);
    if (!leading) return 0;
    const tokens = promptTokens(messages.slice(0, -1));
    const cached = this.minTokens >= 1024 ? tokens - (tokens % 128) : tokens;
    return cached >= this.minTokens ? cached : 0;
  }

  private remember(hash: string): void {
    this.seen.delete(hash);
    this.seen.add(hash);
    if (this.seen.size > PROMPT_CACHE_ENTRIES) this.seen.delete(this.seen.values().next().value as string);
  }
}

export function completionId(key: string): string {
  return `chatcmpl-sim-${key.slice(0, 24)}`;
}

/** How a reply is built: `cachedTokens` goes to `usage.prompt_tokens_details` (absent: no details). */
export interface CompletionOptions {
  emptyChoices?: boolean;
  cachedTokens?: number;
}

export function buildCompletion(
  key: string,
  request: ChatRequest,
  content: string,
  options: CompletionOptions = {},
): Record<string, unknown> {
  return {
    id: completionId(key),
    object: 'chat.completion',
    created: SIM_CREATED,
    model: request.model,
    choices: options.emptyChoices
      ? []
      : [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: usageFor(request.messages, content, options.cachedTokens),
    system_fingerprint: 'evolforge-sim',
  };
}

/** Server-sent events for `stream: true`: the whole content in one chunk, then the finish chunk. */
export function buildStreamEvents(
  key: string,
  request: ChatRequest,
  content: string,
  options: CompletionOptions = {},
): string {
  const base = { id: completionId(key), object: 'chat.completion.chunk', created: SIM_CREATED, model: request.model };
  const chunks: unknown[] = options.emptyChoices
    ? [{ ...base, choices: [] }]
    : [
        { ...base, choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: null }] },
        { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
      ];
  if (request.includeUsageInStream) {
    chunks.push({ ...base, choices: [], usage: usageFor(request.messages, content, options.cachedTokens) });
  }
  return chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`).join('') + 'data: [DONE]\n\n';
}
