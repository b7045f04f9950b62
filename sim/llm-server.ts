/**
 * A simulated OpenAI-compatible LLM over HTTP. It answers our own prompts (mutate, respond,
 * judge) plausibly and deterministically, and can be scripted (rules) or told to misbehave at
 * random (faultRate) so retries, timeouts and parsing are exercised through the real SDK.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { createPrng } from '../core/prng';
import { ChatMessage } from '../core/chat';
import {
  buildCompletion,
  buildStreamEvents,
  ChatRequest,
  CompletionOptions,
  DEFAULT_SIM_MODEL,
  parseChatRequest,
  PromptCache,
  requestKey,
  SIM_CREATED,
  usageFor,
} from './completion';
import { BodyTooLargeError, openAiErrorBody, readBody, sendError, sendJson, sendRaw } from './http';
import { DEFAULT_RECOGNISERS, findRecogniser } from './recognisers';
import { parseRateLimits, RateLimiter } from './rate-limits';
import { activateRule, ActiveRule, takeRule } from './rules';
import { SimBatchApi, type SimBatchFault, type SimBatchRecord } from './batch-api';
import {
  SIM_REQUEST_KINDS,
  SimFault,
  SimLlm,
  SimLlmOptions,
  SimRateLimits,
  SimRecogniser,
  SimRequestKind,
  SimRequestRecord,
  SimRule,
  SimStats,
} from './types';

export * from './types';
export { parseResetDuration } from './rate-limits';
export type { SimBatchFault, SimBatchRecord } from './batch-api';
export { classifyRequest, DEFAULT_RECOGNISERS } from './recognisers';
export { requestKey } from './completion';

/** What the server does with one chat-completion request. */
type Action =
  | { type: 'answer'; content?: string }
  | { type: 'error'; status: number; body?: unknown; headers?: Record<string, string> }
  | { type: 'fault'; fault: SimFault };

/** Random faults are drawn evenly from these. */
const RANDOM_FAULTS: readonly Action[] = [
  { type: 'error', status: 429, headers: { 'retry-after': '1' } },
  { type: 'error', status: 500 },
  { type: 'error', status: 503 },
  { type: 'fault', fault: 'reset' },
  { type: 'fault', fault: 'hang' },
  { type: 'fault', fault: 'truncated-json' },
  { type: 'fault', fault: 'empty-choices' },
];

function actionForRule(rule: SimRule): Action {
  if (rule.status !== undefined) return { type: 'error', status: rule.status, body: rule.body, headers: rule.headers };
  if (rule.fault !== undefined) return { type: 'fault', fault: rule.fault };
  return { type: 'answer', content: rule.content };
}

/**
 * The usual answer in the JSON shape asked for, when each of its lines gives a field: `name: value`, or a bare value
 * that only one field takes (the simulated judge answers so). Anything else stays as it is.
 */
function structured(request: ChatRequest, text: string): string {
  const fields = request.jsonEnumFields;
  if (!fields) return text;
  const given = new Map<string, string>();
  for (const line of text.split('\n')) {
    const named = /^(\w+):\s*(.+)$/.exec(line);
    const field = named
      ? fields.find((f) => f.name === named[1] && f.values.includes(named[2]))
      : fields.find((f) => f.values.includes(line));
    if (!field) return text;
    given.set(field.name, named ? named[2] : line);
  }
  return JSON.stringify(
    Object.fromEntries(fields.flatMap((f) => (given.has(f.name) ? [[f.name, given.get(f.name)]] : []))),
  );
}

function emptyStats(): Omit<SimStats, 'inFlight' | 'queue'> & { queue: Omit<SimStats['queue'], 'waiting'> } {
  const byKind = Object.fromEntries(SIM_REQUEST_KINDS.map((kind) => [kind, 0])) as Record<SimRequestKind, number>;
  return {
    total: 0,
    byKind,
    byOutcome: { ok: 0, error: 0, fault: 0 },
    faultsInjected: {},
    rateLimited: { requests: 0, tokens: 0 },
    peakInFlight: 0,
    queue: { peakWaiting: 0, longestWaitMs: 0, abandoned: 0 },
  };
}

function isChatPath(path: string): boolean {
  return path === '/v1/chat/completions' || path === '/chat/completions';
}

class SimulatedLlm implements SimLlm {
  url = '';
  port = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly recognisers: readonly SimRecogniser[];
  private readonly faultRandom: () => number;
  private rules: ActiveRule[] = [];
  private records: SimRequestRecord[] = [];
  private counts = new Map<string, number>();
  private counters = emptyStats();
  private seq = 0;
  /** Requests received and not answered yet (the response not closed). */
  private inFlight = 0;
  /** Requests being answered (with `maxInFlight`), and those waiting for a slot, first come first served. */
  private serving = 0;
  private readonly waiting: Array<() => void> = [];
  /** Models seen, also used to share one string per model name among the records. */
  private readonly models = new Map<string, string>();
  private rateLimiter?: RateLimiter;
  private readonly promptCache?: PromptCache;
  /** The Files and Batch API (sim/batch-api.ts); its rows are answered as chat requests are. */
  private readonly batchApi: SimBatchApi;

  constructor(private readonly options: SimLlmOptions) {
    this.batchApi = new SimBatchApi({
      completionDelayMs: options.batchCompletionDelayMs,
      answer: (body, batchId) => this.answerBatchRow(body, batchId),
    });
    this.recognisers = [...(options.recognisers ?? []), ...DEFAULT_RECOGNISERS];
    this.faultRandom = createPrng(options.faultSeed ?? 0);
    for (const rule of options.rules ?? []) this.addRule(rule);
    this.setRateLimits(options.rateLimits);
    if (options.promptCache) this.promptCache = new PromptCache(options.promptCache.minTokens);
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 500, `simulated LLM failed: ${(err as Error).message}`);
        else res.destroy();
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    this.url = `http://${urlHost}:${this.port}/v1`;
  }

  addRule(rule: SimRule): void {
    this.rules.push(activateRule(rule));
  }

  clearRules(): void {
    this.rules = [];
  }

  requests(): SimRequestRecord[] {
    return this.records.slice();
  }

  countByKey(): Map<string, number> {
    return new Map(this.counts);
  }

  resetRequests(): void {
    this.records = [];
    this.counts = new Map();
    this.counters = emptyStats();
    this.seq = 0;
  }

  batches(): SimBatchRecord[] {
    return this.batchApi.batches();
  }

  addBatchFault(fault: SimBatchFault): void {
    this.batchApi.addFault(fault);
  }

  stats(): SimStats {
    const { total, byKind, byOutcome, faultsInjected, rateLimited, peakInFlight, queue } = this.counters;
    return {
      total,
      inFlight: this.inFlight,
      byKind: { ...byKind },
      byOutcome: { ...byOutcome },
      faultsInjected: { ...faultsInjected },
      rateLimited: { ...rateLimited },
      peakInFlight,
      queue: { waiting: this.waiting.length, ...queue },
    };
  }

  setRateLimits(limits?: SimRateLimits): void {
    const limiter = new RateLimiter(limits ?? {});
    this.rateLimiter = limiter.active ? limiter : undefined;
  }

  close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    return closed;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (isChatPath(path) && method === 'POST') return this.chatCompletion(req, res);
    if (await this.batchApi.route(req, res, path, method)) return;
    if ((path === '/v1/models' || path === '/models') && method === 'GET') return this.listModels(res);
    if (path === '/props' && method === 'GET' && this.options.serverKind === 'llama.cpp') {
      return sendJson(res, 200, { total_slots: this.options.maxInFlight ?? 1, model_alias: DEFAULT_SIM_MODEL });
    }
    if (path === '/api/version' && method === 'GET' && this.options.serverKind === 'ollama') {
      return sendJson(res, 200, { version: '0.0.0-sim' });
    }
    if (path === '/_sim/rules' && method === 'POST') return this.postRules(req, res);
    if (path === '/_sim/limits' && method === 'POST') return this.postLimits(req, res);
    if (path === '/_sim/limits' && method === 'GET') return sendJson(res, 200, this.rateLimiter?.limits ?? {});
    if (path === '/_sim/rules' && method === 'DELETE') {
      const cleared = this.rules.length;
      this.clearRules();
      return sendJson(res, 200, { cleared });
    }
    if (path === '/_sim/requests' && method === 'GET') return sendJson(res, 200, this.records);
    if (path === '/_sim/requests' && method === 'DELETE') {
      const cleared = this.records.length;
      this.resetRequests();
      return sendJson(res, 200, { cleared });
    }
    if (path === '/_sim/stats' && method === 'GET') return sendJson(res, 200, this.counters);
    if (path === '/_sim/counts' && method === 'GET') return sendJson(res, 200, Object.fromEntries(this.counts));
    if (path === '/_sim/batches' && method === 'GET') return sendJson(res, 200, this.batchApi.batches());
    if (path === '/_sim/batch-faults' && method === 'POST') return this.postBatchFault(req, res);
    sendError(res, 404, `no route for ${method} ${path} on the simulated LLM`);
  }

  private listModels(res: ServerResponse): void {
    const ids = this.models.size > 0 ? [...this.models.keys()] : [DEFAULT_SIM_MODEL];
    sendJson(res, 200, {
      object: 'list',
      data: ids.map((id) => ({ id, object: 'model', created: SIM_CREATED, owned_by: 'evolforge-sim' })),
    });
  }

  /** Scripts a fault for the next batch created (see SimBatchFault), e.g. `{"expireAfterFraction": 0.5}`. */
  private async postBatchFault(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let fault: SimBatchFault;
    try {
      fault = JSON.parse(await readBody(req)) as SimBatchFault;
    } catch {
      return sendError(res, 400, 'the batch fault body is not valid JSON');
    }
    if (!fault || typeof fault !== 'object' || Array.isArray(fault)) {
      return sendError(res, 400, 'a batch fault is an object: {"expireAfterFraction": 0.5}, {"failRows": 2} ...');
    }
    this.batchApi.addFault(fault);
    sendJson(res, 200, { added: 1 });
  }

  private async postRules(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let input: unknown;
    try {
      input = JSON.parse(await readBody(req));
    } catch {
      return sendError(res, 400, 'the rules body is not valid JSON');
    }
    let activated: ActiveRule[];
    try {
      activated = (Array.isArray(input) ? input : [input]).map(activateRule);
    } catch (err) {
      return sendError(res, 400, (err as Error).message);
    }
    this.rules.push(...activated);
    sendJson(res, 200, { added: activated.length, rules: this.rules.length });
  }

  private async postLimits(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let input: unknown;
    try {
      const raw = await readBody(req);
      input = raw.trim() === '' ? {} : JSON.parse(raw);
    } catch {
      return sendError(res, 400, 'the limits body is not valid JSON');
    }
    const limits = parseRateLimits(input);
    if (typeof limits === 'string') return sendError(res, 400, limits);
    this.setRateLimits(limits);
    sendJson(res, 200, limits);
  }

  private async chatCompletion(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw: string;
    try {
      raw = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) sendError(res, 413, err.message);
      return;
    }
    let parsed: ChatRequest | string;
    try {
      parsed = parseChatRequest(JSON.parse(raw));
    } catch {
      parsed = 'the request body is not valid JSON';
    }
    if (typeof parsed === 'string') {
      this.record({ key: requestKey('', [{ role: 'user', content: raw }]), kind: 'other', model: '' }, 'error', 400);
      return sendError(res, 400, parsed);
    }

    const request = { ...parsed, model: this.internModel(parsed.model) };
    const recogniser = findRecogniser(request.messages, this.recognisers);
    const key = requestKey(request.model, request.messages);
    // Asked for a JSON verdict, the simulated judge gives its usual answer in that shape (scripted content stays as is).
    let usual: string | undefined;
    const answer = () => (usual ??= structured(request, recogniser.answer(request.messages)));
    const headers: Record<string, string> = {};
    if (this.rateLimiter) {
      // Charged the usage of the usual answer, counted at arrival; a refused request takes nothing.
      const decision = this.rateLimiter.take(usageFor(request.messages, answer()).total_tokens, request.model);
      Object.assign(headers, decision.headers);
      if (!decision.admitted) {
        this.counters.rateLimited[decision.limit]++;
        const seq = this.record(
          { key, kind: recogniser.kind, model: request.model, operation: recogniser.operation?.(request.messages) },
          'error',
          429,
          request.messages,
        );
        const error = { message: decision.message, type: decision.limit, param: null, code: 'rate_limit_exceeded' };
        return sendJson(res, 429, { error }, { 'x-request-id': `sim-${seq}`, ...headers });
      }
    }
    const completionOptions: CompletionOptions = this.promptCache
      ? { cachedTokens: this.promptCache.cachedTokens(request.model, request.messages) }
      : {};
    const rule = takeRule(this.rules, {
      text: request.messages.map((m) => m.content).join('\n'),
      model: request.model,
      kind: recogniser.kind,
    });
    const action = rule ? actionForRule(rule) : (this.randomFault() ?? { type: 'answer' });
    const seq = this.recordAction(
      { key, kind: recogniser.kind, model: request.model, operation: recogniser.operation?.(request.messages) },
      action,
      request.messages,
    );
    const record = this.records[this.records.length - 1];
    this.inFlight++;
    this.counters.peakInFlight = Math.max(this.counters.peakInFlight, this.inFlight);
    // Out of flight once its answer is ready (before it is written, so the client's next request never overlaps it),
    // or when its client goes away.
    let answered = false;
    const done = () => {
      if (answered) return;
      answered = true;
      this.inFlight--;
    };
    res.once('close', () => {
      if (!answered && action.type !== 'fault') {
        record.abandoned = true;
        this.counters.queue.abandoned++;
      }
      done();
    });

    if (action.type === 'fault' && action.fault === 'hang') return;
    const release = await this.slot(record);
    try {
      await this.delay(rule?.latencyMs ?? this.options.latencyMs ?? 0);
    } finally {
      done();
      release();
    }
    headers['x-request-id'] = `sim-${seq}`;

    if (action.type === 'error') {
      const body = action.body ?? openAiErrorBody(action.status);
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      return sendRaw(res, action.status, text, { ...headers, ...action.headers });
    }
    if (action.type === 'fault' && action.fault === 'reset') {
      req.socket.destroy();
      return;
    }

    if (action.type === 'answer') {
      return this.sendCompletion(res, key, request, action.content ?? answer(), headers, completionOptions);
    }
    switch (action.fault) {
      case 'empty-content':
        return this.sendCompletion(res, key, request, '', headers, completionOptions);
      case 'empty-choices':
        return this.sendCompletion(res, key, request, '', headers, { ...completionOptions, emptyChoices: true });
      case 'truncated-json': {
        const full = JSON.stringify(buildCompletion(key, request, answer(), completionOptions));
        return sendRaw(res, 200, full.slice(0, Math.floor(full.length / 2)), headers);
      }
      case 'malformed-json':
        return sendRaw(
          res,
          200,
          `{"id": "${key.slice(0, 12)}", "object": "chat.completion", choices: [oops]}`,
          headers,
        );
    }
  }

  /**
   * One row of a batch, answered as the chat endpoint answers the same request (rules included; a rule's fault is a
   * failed row), and recorded like one.
   */
  private answerBatchRow(body: unknown, batchId: string): { status: number; body: unknown } {
    const parsed = parseChatRequest(body);
    if (typeof parsed === 'string') return { status: 400, body: openAiErrorBody(400, parsed) };
    const request = { ...parsed, model: this.internModel(parsed.model) };
    const recogniser = findRecogniser(request.messages, this.recognisers);
    const key = requestKey(request.model, request.messages);
    const rule = takeRule(this.rules, {
      text: request.messages.map((m) => m.content).join('\n'),
      model: request.model,
      kind: recogniser.kind,
    });
    const action: Action = rule ? actionForRule(rule) : { type: 'answer' };
    const call = {
      key,
      kind: recogniser.kind,
      model: request.model,
      operation: recogniser.operation?.(request.messages),
    };
    this.recordAction(call, action, request.messages);
    this.records[this.records.length - 1].batchId = batchId;
    if (action.type === 'error') return { status: action.status, body: action.body ?? openAiErrorBody(action.status) };
    if (action.type === 'fault') {
      if (action.fault === 'empty-content') return { status: 200, body: buildCompletion(key, request, '') };
      return { status: 500, body: openAiErrorBody(500, `simulated fault ${action.fault}`) };
    }
    const content = action.content ?? structured(request, recogniser.answer(request.messages));
    return { status: 200, body: buildCompletion(key, request, content) };
  }

  private sendCompletion(
    res: ServerResponse,
    key: string,
    request: ChatRequest,
    content: string,
    headers: Record<string, string>,
    options: CompletionOptions = {},
  ): void {
    if (request.stream) {
      return sendRaw(res, 200, buildStreamEvents(key, request, content, options), {
        ...headers,
        'content-type': 'text/event-stream',
      });
    }
    sendJson(res, 200, buildCompletion(key, request, content, options), headers);
  }

  /** Waits for a free slot (with `maxInFlight`), first come first served; resolves to its release. */
  private async slot(record: SimRequestRecord): Promise<() => void> {
    const max = this.options.maxInFlight;
    if (max === undefined) return () => undefined;
    const since = Date.now();
    if (this.serving >= max) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.counters.queue.peakWaiting = Math.max(this.counters.queue.peakWaiting, this.waiting.length);
      });
    }
    this.serving++;
    record.waitedMs = Date.now() - since;
    this.counters.queue.longestWaitMs = Math.max(this.counters.queue.longestWaitMs, record.waitedMs);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.serving--;
      this.waiting.shift()?.();
    };
  }

  private randomFault(): Action | undefined {
    const rate = this.options.faultRate ?? 0;
    if (!(rate > 0)) return undefined;
    const draw = this.faultRandom();
    if (draw >= rate) return undefined;
    return RANDOM_FAULTS[Math.min(RANDOM_FAULTS.length - 1, Math.floor((draw / rate) * RANDOM_FAULTS.length))];
  }

  private internModel(model: string): string {
    const known = this.models.get(model);
    if (known !== undefined) return known;
    this.models.set(model, model);
    return model;
  }

  private recordAction(
    request: { key: string; kind: SimRequestKind; model: string; operation?: string },
    action: Action,
    messages: ChatMessage[],
  ): number {
    if (action.type === 'answer') return this.record(request, 'ok', 200, messages);
    if (action.type === 'error') {
      this.countFault(`http-${action.status}`);
      return this.record(request, 'error', action.status, messages);
    }
    this.countFault(action.fault);
    const status = action.fault === 'reset' || action.fault === 'hang' ? 0 : 200;
    return this.record(request, 'fault', status, messages);
  }

  private countFault(name: string): void {
    this.counters.faultsInjected[name] = (this.counters.faultsInjected[name] ?? 0) + 1;
  }

  private record(
    request: { key: string; kind: SimRequestKind; model: string; operation?: string },
    outcome: SimRequestRecord['outcome'],
    status: number,
    messages?: ChatMessage[],
  ): number {
    const seq = ++this.seq;
    const record: SimRequestRecord = {
      seq,
      key: request.key,
      kind: request.kind,
      model: request.model,
      outcome,
      status,
      receivedAt: Date.now(),
    };
    if (request.operation !== undefined) record.operation = request.operation;
    if (this.options.keepMessages && messages) record.messages = messages;
    this.records.push(record);
    this.counts.set(request.key, (this.counts.get(request.key) ?? 0) + 1);
    this.counters.total++;
    this.counters.byKind[request.kind]++;
    this.counters.byOutcome[outcome] = (this.counters.byOutcome[outcome] ?? 0) + 1;
    return seq;
  }

  private delay(ms: number): Promise<void> {
    if (!(ms > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }
}

export async function startSimLlm(options: SimLlmOptions = {}): Promise<SimLlm> {
  const sim = new SimulatedLlm(options);
  await sim.listen();
  return sim;
}
