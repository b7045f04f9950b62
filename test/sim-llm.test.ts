import { buildScoreMessages, parseScores } from '../core/scoring';
import OpenAI from 'openai';
import { ChatMessage } from '../core/chat';
import {
  buildEqualityMessages,
  checkTemplateWords,
  countWords,
  EQUALITY_VERDICT_SCHEMA,
  parseEqualityAnswer,
  parseJudgeAnswer,
  SORRY_WORD_LIMIT,
} from '../core/elimination';
import {
  buildMutationMessages,
  buildResponseMessages,
  GENERAL_OPERATIONS,
  GUIDANCE_LEAD,
  INSTRUCTION_CLOSE,
  INSTRUCTION_OPEN,
  Operation,
} from '../core/operations';
import { parseRewrite } from '../core/rewrite';
import { eventually } from './helpers/temporal';
import {
  classifyRequest,
  DEFAULT_RECOGNISERS,
  parseResetDuration,
  requestKey,
  SimLlm,
  SimRecogniser,
  SimRequestRecord,
  startSimLlm,
} from '../sim/llm-server';

const SEED = 'Explain how photosynthesis works in plants.';

function operation(id: string): Operation {
  const found = GENERAL_OPERATIONS.find((op) => op.id === id);
  if (!found) throw new Error(`no operation ${id}`);
  return found;
}

/** What the server would answer, without HTTP: for properties checked over many prompts. */
function answerOf(messages: ChatMessage[]): string {
  const recogniser = DEFAULT_RECOGNISERS.find((r) => r.test(messages)) as SimRecogniser;
  return recogniser.answer(messages);
}

/**
 * Jest runs tests in their own realm, so the AbortError that Node's fetch throws on a timeout is
 * not `instanceof Error` there and the SDK loses its name (it reports a plain APIConnectionError).
 * Outside Jest the SDK sees the original error; this re-creates it in the test's realm.
 */
const fetchInTestRealm: typeof fetch = async (input, init) => {
  try {
    return await fetch(input, init);
  } catch (err) {
    const original = err as Error;
    throw Object.assign(new Error(original.message, { cause: original.cause }), { name: original.name });
  }
};

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the request to fail, but it succeeded');
}

/** Synthetic seed instructions, varied enough to exercise the hash-driven choices. */
const TOPICS = ['photosynthesis', 'inflation', 'recursion', 'volcanoes', 'jazz', 'encryption', 'glaciers', 'taxes'];
const FRAMES = [
  (t: string, i: number) => `Explain the role of ${t} in case study number ${i}.`,
  (t: string, i: number) => `Write a short essay about ${t} for reader ${i}`,
  (t: string, i: number) => `What would change about ${t} if scenario ${i} happened?`,
  (t: string, i: number) => `Summarise the history of ${t}, focusing on period ${i}.`,
];
const FRAME_VERBS = new Set(['explain', 'write', 'short', 'what', 'would', 'about', 'summarise', 'focusing']);
const MANY_SEEDS = Array.from({ length: 400 }, (_, i) => FRAMES[i % FRAMES.length](TOPICS[i % TOPICS.length], i));

describe('simulated LLM answers (pure)', () => {
  it('recognises each of our prompts and names the operation', () => {
    for (const op of GENERAL_OPERATIONS) {
      expect(classifyRequest(buildMutationMessages(op, SEED))).toEqual({ kind: 'mutate', operation: op.id });
    }
    expect(classifyRequest(buildResponseMessages(SEED))).toEqual({ kind: 'respond' });
    expect(classifyRequest(buildEqualityMessages(SEED, SEED))).toEqual({ kind: 'judge' });
    expect(classifyRequest([{ role: 'user', content: 'hello there' }])).toEqual({ kind: 'other' });
  });

  it('in-depth rewrites keep the instruction, parse cleanly and carry no template words', () => {
    let wrapped = 0;
    let total = 0;
    for (const seed of MANY_SEEDS) {
      for (const op of GENERAL_OPERATIONS.filter((o) => o.kind === 'in-depth')) {
        const answer = answerOf(buildMutationMessages(op, seed));
        const parsed = parseRewrite(answer);
        if (!parsed.ok) throw new Error(`unparseable: ${answer}`);
        expect(parsed.text.startsWith(seed)).toBe(true);
        expect(parsed.text.length).toBeGreaterThan(seed.length + 20);
        expect(checkTemplateWords(parsed.text)).toEqual({ passed: true });
        if (!parsed.text.includes('\n')) {
          const added = countWords(parsed.text) - countWords(seed);
          expect(added).toBeGreaterThanOrEqual(10);
          expect(added).toBeLessThanOrEqual(20);
        }
        if (parsed.text !== answer) wrapped++;
        total++;
      }
    }
    // About one answer in ten is wrapped like a chatty model would.
    expect(wrapped / total).toBeGreaterThan(0.05);
    expect(wrapped / total).toBeLessThan(0.16);
  });

  it('handles a custom in-depth operation by its guidance lead', () => {
    const custom: Operation = {
      id: 'make-it-formal',
      kind: 'custom',
      weight: 1,
      system: 'You rewrite tasks.',
      template: `Rewrite this.\n\n${GUIDANCE_LEAD} Ask for a formal register.\n\n${INSTRUCTION_OPEN}\n{instruction}\n${INSTRUCTION_CLOSE}`,
    };
    const messages = buildMutationMessages(custom, SEED);
    expect(classifyRequest(messages)).toEqual({ kind: 'mutate', operation: 'custom' });
    const parsed = parseRewrite(answerOf(messages));
    expect(parsed.ok && parsed.text.startsWith(SEED) && parsed.text.length > SEED.length).toBe(true);
  });

  it('in-breadth writes a different task on the same subject', () => {
    for (const seed of MANY_SEEDS.slice(0, 60)) {
      const parsed = parseRewrite(answerOf(buildMutationMessages(operation('in-breadth'), seed)));
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(parsed.text).not.toContain(seed);
      // Built from the seed's own content words, not only from the words every template has.
      const contentWords = (seed.toLowerCase().match(/[a-z]{4,}/g) ?? []).filter((w) => !FRAME_VERBS.has(w));
      expect(contentWords.some((word) => parsed.text.toLowerCase().includes(word))).toBe(true);
      expect(checkTemplateWords(parsed.text)).toEqual({ passed: true });
    }
  });

  it('complicating-input adds structured input', () => {
    const answers = MANY_SEEDS.slice(0, 40).map((seed) =>
      answerOf(buildMutationMessages(operation('complicating-input'), seed)),
    );
    expect(answers.every((a) => /```|\|.*\||=/.test(a))).toBe(true);
  });

  it('responses are 60-220 words about the instruction, with an occasional short apology', () => {
    let apologies = 0;
    for (const seed of MANY_SEEDS) {
      const answer = answerOf(buildResponseMessages(seed));
      if (/sorry/i.test(answer)) {
        apologies++;
        expect(countWords(answer)).toBeLessThan(SORRY_WORD_LIMIT);
        continue;
      }
      expect(countWords(answer)).toBeGreaterThanOrEqual(60);
      expect(countWords(answer)).toBeLessThanOrEqual(220);
      expect(answer).toContain(TOPICS.find((t) => seed.includes(t)) as string);
      expect(answer).toMatch(/^1\. /m);
    }
    expect(apologies).toBeGreaterThan(0);
    expect(apologies / MANY_SEEDS.length).toBeLessThan(0.1);
  });

  it('the judge says EQUAL for the same text and mostly NOT EQUAL for different texts', () => {
    expect(parseEqualityAnswer(answerOf(buildEqualityMessages(SEED, `  ${SEED.toUpperCase()}\n`)))).toBe('equal');
    const verdicts = MANY_SEEDS.map((seed, i) =>
      parseEqualityAnswer(answerOf(buildEqualityMessages(seed, MANY_SEEDS[(i + 1) % MANY_SEEDS.length]))),
    );
    const equal = verdicts.filter((v) => v === 'equal').length;
    expect(equal).toBeGreaterThan(0);
    expect(equal / verdicts.length).toBeLessThan(0.16);
    expect(verdicts.every((v) => v !== null)).toBe(true);
  });

  it("the judge says a rewrite is a task of its parent, unless it is the responder's answer or shares no topic word", () => {
    const said = (parent: string, rewrite: string) =>
      parseJudgeAnswer(answerOf(buildEqualityMessages(parent, rewrite)));
    const deeper = answerOf(buildMutationMessages(operation('deepening'), SEED));
    expect(said(SEED, deeper)).toMatchObject({ kind: 'task', keepsTask: true });
    expect(said(SEED, answerOf(buildResponseMessages(SEED)))).toMatchObject({ kind: 'answer', keepsTask: true });
    expect(said(SEED, 'Write a limerick about a lighthouse keeper.')).toMatchObject({ kind: 'task', keepsTask: false });
    // Over many pairs of an in-depth rewrite and its parent, neither rule is ever told to eliminate.
    for (const seed of MANY_SEEDS) {
      const rewrite = parseRewrite(answerOf(buildMutationMessages(operation('add-constraints'), seed)));
      expect(rewrite.ok && said(seed, rewrite.text)).toMatchObject({ kind: 'task', keepsTask: true });
    }
  });
});

describe('simulated LLM over HTTP with the openai client', () => {
  let sim: SimLlm;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimLlm();
    client = new OpenAI({ baseURL: sim.url, apiKey: 'test', maxRetries: 0 });
  });

  afterAll(async () => {
    await sim.close();
  });

  beforeEach(() => {
    sim.clearRules();
    sim.resetRequests();
  });

  async function ask(messages: ChatMessage[], model = 'sim-test'): Promise<OpenAI.ChatCompletion> {
    return client.chat.completions.create({ model, messages });
  }

  function contentOf(completion: OpenAI.ChatCompletion): string {
    return completion.choices[0]?.message.content ?? '';
  }

  it('answers deterministically: same prompt, same answer; different prompt, different answer', async () => {
    const first = await ask(buildResponseMessages(SEED));
    const again = await ask(buildResponseMessages(SEED));
    const other = await ask(buildResponseMessages('Describe the water cycle in mountain regions.'));
    expect(contentOf(first)).toBe(contentOf(again));
    expect(contentOf(first)).not.toBe(contentOf(other));
    expect(first.id).toBe(again.id);
    expect(first.created).toBe(again.created);
    expect(first.model).toBe('sim-test');
    expect(first.choices[0].finish_reason).toBe('stop');
    expect(first.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(first.usage?.completion_tokens).toBeGreaterThan(0);
    expect(first.usage?.total_tokens).toBe((first.usage?.prompt_tokens ?? 0) + (first.usage?.completion_tokens ?? 0));
  });

  it('recognises each kind and keeps the instruction in an in-depth rewrite', async () => {
    const mutated = await ask(buildMutationMessages(operation('deepening'), SEED));
    const parsed = parseRewrite(contentOf(mutated));
    expect(parsed.ok && parsed.text.startsWith(SEED)).toBe(true);
    expect(contentOf(await ask(buildEqualityMessages(SEED, SEED)))).toBe('EQUAL\nsecond_is: TASK\nkeeps_task: YES');
    await ask(buildResponseMessages(SEED));
    await ask([{ role: 'user', content: 'Tell me a joke about compilers.' }]);
    // A difficulty rating: plausible numbers, higher for a longer task with more demands.
    const rating = async (task: string) => parseScores(contentOf(await ask(buildScoreMessages(task))));
    const short = await rating('Name a colour.');
    const long = await rating(
      'Compare three sorting algorithms on 10,000 items, explain each step, justify the choice, and give at least two examples of each case in Python and C.',
    );
    expect(short && long && long.difficulty > short.difficulty && long.complexity > short.complexity).toBe(true);

    const records = sim.requests();
    expect(records.map((r) => r.kind)).toEqual(['mutate', 'judge', 'respond', 'other', 'score', 'score']);
    expect(records[0].operation).toBe('deepening');
    expect(records.every((r) => r.outcome === 'ok' && r.status === 200)).toBe(true);
    expect(records[0].messages).toBeUndefined();
    expect(sim.stats().byKind).toEqual({ mutate: 1, judge: 1, respond: 1, other: 1, score: 2 });
  });

  it("asked for the judge's JSON schema (OpenAI's way or llama-cpp-python's), it answers the object with every field", async () => {
    const messages = buildEqualityMessages(SEED, `${SEED} Use one diagram.`);
    const formats = [
      { type: 'json_schema', json_schema: EQUALITY_VERDICT_SCHEMA },
      { type: 'json_object', schema: EQUALITY_VERDICT_SCHEMA.schema },
    ] as unknown as Array<OpenAI.ChatCompletionCreateParams['response_format']>;
    for (const response_format of formats) {
      const answer = JSON.parse(
        contentOf(await client.chat.completions.create({ model: 'm', messages, response_format })),
      );
      expect(Object.keys(answer)).toEqual(Object.keys(EQUALITY_VERDICT_SCHEMA.schema.properties));
      expect(answer).toMatchObject({ second_is: 'TASK', keeps_task: 'YES' });
    }
  });

  it('a rule with times: 2 answers twice, then normal answers resume', async () => {
    sim.addRule({ match: { kind: 'respond', contains: 'photosynthesis' }, times: 2, content: 'SCRIPTED' });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(contentOf(await ask(buildResponseMessages(SEED))));
    expect(answers.slice(0, 2)).toEqual(['SCRIPTED', 'SCRIPTED']);
    expect(answers[2]).not.toBe('SCRIPTED');
    expect(countWords(answers[2])).toBeGreaterThan(5);
    // A rule whose conditions do not hold is skipped.
    sim.addRule({ match: { model: 'another-model' }, content: 'NOT FOR YOU' });
    expect(contentOf(await ask(buildResponseMessages(SEED)))).not.toBe('NOT FOR YOU');
    expect(contentOf(await ask(buildResponseMessages(SEED), 'another-model'))).toBe('NOT FOR YOU');
  });

  it('a 429 rule surfaces as RateLimitError carrying retry-after', async () => {
    sim.addRule({ status: 429, headers: { 'retry-after': '7' }, times: 1 });
    const err = await rejectionOf(ask(buildResponseMessages(SEED)));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimit = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.headers.get('retry-after')).toBe('7');
    expect(rateLimit.type).toBe('rate_limit_error');
    expect(sim.requests()[0]).toMatchObject({ outcome: 'error', status: 429 });
    expect(sim.stats().faultsInjected).toEqual({ 'http-429': 1 });
  });

  it('a 401 rule surfaces as AuthenticationError, a custom body is passed through', async () => {
    sim.addRule({ status: 401, times: 1 });
    sim.addRule({ status: 500, body: { error: { message: 'custom failure', type: 'server_error', code: 'x' } } });
    expect(await rejectionOf(ask(buildResponseMessages(SEED)))).toBeInstanceOf(OpenAI.AuthenticationError);
    const err = await rejectionOf(ask(buildResponseMessages(SEED)));
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as Error).message).toContain('custom failure');
  });

  it('truncated and malformed JSON make the client throw', async () => {
    sim.addRule({ fault: 'truncated-json', times: 1 });
    sim.addRule({ fault: 'malformed-json', times: 1 });
    // SyntaxError from Node's own JSON parsing, which lives outside Jest's realm: compare by name.
    expect(await rejectionOf(ask(buildResponseMessages(SEED)))).toHaveProperty('name', 'SyntaxError');
    expect(await rejectionOf(ask(buildResponseMessages(SEED)))).toHaveProperty('name', 'SyntaxError');
    expect(sim.stats().faultsInjected).toEqual({ 'truncated-json': 1, 'malformed-json': 1 });
    expect(contentOf(await ask(buildResponseMessages(SEED)))).not.toBe('');
  });

  it('empty-choices and empty-content come back as well-formed but useless completions', async () => {
    sim.addRule({ fault: 'empty-choices', times: 1 });
    sim.addRule({ fault: 'empty-content', times: 1 });
    expect((await ask(buildResponseMessages(SEED))).choices.length).toBe(0);
    const empty = await ask(buildResponseMessages(SEED));
    expect(empty.choices.length).toBe(1);
    expect(empty.choices[0].message.content).toBe('');
  });

  it('reset gives APIConnectionError and hang gives APIConnectionTimeoutError', async () => {
    sim.addRule({ fault: 'reset', times: 1 });
    const reset = await rejectionOf(ask(buildResponseMessages(SEED)));
    expect(reset).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(reset).not.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);

    sim.addRule({ fault: 'hang', times: 1 });
    const started = Date.now();
    const timingClient = new OpenAI({ baseURL: sim.url, apiKey: 'test', maxRetries: 0, fetch: fetchInTestRealm });
    const hang = await rejectionOf(
      timingClient.chat.completions.create(
        { model: 'sim-test', messages: buildResponseMessages(SEED) },
        { timeout: 300 },
      ),
    );
    expect(hang).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(sim.requests().map((r) => [r.outcome, r.status])).toEqual([
      ['fault', 0],
      ['fault', 0],
    ]);
  });

  it('latencyMs delays the answer without blocking other requests', async () => {
    sim.addRule({ match: { contains: 'slow please' }, latencyMs: 200 });
    const started = Date.now();
    const slow = ask([{ role: 'user', content: 'slow please' }]).then(() => Date.now() - started);
    const fast = ask([{ role: 'user', content: 'fast please' }]).then(() => Date.now() - started);
    const [slowMs, fastMs] = await Promise.all([slow, fast]);
    expect(slowMs).toBeGreaterThanOrEqual(190);
    expect(fastMs).toBeLessThan(slowMs);
  });

  it('countByKey counts repeated identical requests', async () => {
    const messages = buildEqualityMessages(SEED, 'Describe leaves.');
    for (let i = 0; i < 3; i++) await ask(messages);
    await ask(messages, 'other-model');
    const counts = sim.countByKey();
    expect(counts.get(requestKey('sim-test', messages))).toBe(3);
    expect(counts.get(requestKey('other-model', messages))).toBe(1);
    expect(counts.size).toBe(2);
    expect(new Set(sim.requests().map((r: SimRequestRecord) => r.key)).size).toBe(2);
  });

  it('streams the same answer when asked to', async () => {
    const plain = contentOf(await ask(buildResponseMessages(SEED)));
    const stream = await client.chat.completions.create({
      model: 'sim-test',
      messages: buildResponseMessages(SEED),
      stream: true,
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    expect(streamed).toBe(plain);
  });

  it('lists the models it has been asked for', async () => {
    await ask(buildResponseMessages(SEED), 'model-a');
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toContain('model-a');
  });

  it('admin endpoints add rules, list requests and report stats', async () => {
    const base = sim.url.replace(/\/v1$/, '');
    const added = await fetch(`${base}/_sim/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { match: { kind: 'judge' }, content: 'NOT EQUAL', times: 1 },
        { status: 503, times: 1 },
      ]),
    });
    expect(added.status).toBe(200);
    expect(await added.json()).toEqual({ added: 2, rules: 2 });

    expect(contentOf(await ask(buildEqualityMessages(SEED, SEED)))).toBe('NOT EQUAL');
    expect(await rejectionOf(ask(buildResponseMessages(SEED)))).toBeInstanceOf(OpenAI.InternalServerError);

    const listed = (await (await fetch(`${base}/_sim/requests`)).json()) as SimRequestRecord[];
    expect(listed.map((r) => [r.seq, r.kind, r.status])).toEqual([
      [1, 'judge', 200],
      [2, 'respond', 503],
    ]);
    const stats = await (await fetch(`${base}/_sim/stats`)).json();
    expect(stats).toMatchObject({ total: 2, byOutcome: { ok: 1, error: 1 }, faultsInjected: { 'http-503': 1 } });

    const invalid = await fetch(`${base}/_sim/rules`, {
      method: 'POST',
      body: JSON.stringify({ content: 'x', fault: 'hang' }),
    });
    expect(invalid.status).toBe(400);

    expect((await fetch(`${base}/_sim/rules`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${base}/_sim/requests`, { method: 'DELETE' })).status).toBe(200);
    expect(sim.requests()).toEqual([]);
    expect(sim.stats().total).toBe(0);
  });

  it('refuses bad JSON and requests without messages with an OpenAI-style 400', async () => {
    const bad = await fetch(`${sim.url}/chat/completions`, { method: 'POST', body: '{"model": "x", ' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const err = await rejectionOf(client.chat.completions.create({ model: 'sim-test', messages: [] }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe('simulated LLM options', () => {
  it('draws random faults deterministically from the fault seed', async () => {
    async function outcomes(): Promise<string[]> {
      const sim = await startSimLlm({ faultRate: 1, faultSeed: 42 });
      const client = new OpenAI({ baseURL: sim.url, apiKey: 'test', maxRetries: 0, timeout: 150 });
      try {
        for (let i = 0; i < 28; i++) {
          await client.chat.completions
            .create({ model: 'm', messages: [{ role: 'user', content: `q${i}` }] })
            .catch(() => undefined);
        }
        expect(sim.stats().total).toBe(28);
        expect(sim.requests().every((r) => r.outcome !== 'ok')).toBe(true);
        return sim.requests().map((r) => `${r.outcome}:${r.status}`);
      } finally {
        await sim.close();
      }
    }
    const first = await outcomes();
    expect(await outcomes()).toEqual(first);
    expect(new Set(first).size).toBeGreaterThanOrEqual(4);
  });

  it('keeps messages when asked and closes with a request still hanging', async () => {
    const sim = await startSimLlm({ keepMessages: true, rules: [{ fault: 'hang' }] });
    const client = new OpenAI({ baseURL: sim.url, apiKey: 'test', maxRetries: 0 });
    const pending = rejectionOf(client.chat.completions.create({ model: 'm', messages: buildResponseMessages(SEED) }));
    while (sim.requests().length === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(sim.requests()[0].messages).toEqual(buildResponseMessages(SEED));
    await sim.close();
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
  });

  it('tries extra recognisers before the built-in ones', async () => {
    const optimizer: SimRecogniser = {
      kind: 'other',
      test: (messages) => messages.some((m) => m.content.includes('OPTIMIZE THIS')),
      answer: () => 'optimised method',
    };
    const sim = await startSimLlm({ recognisers: [optimizer] });
    try {
      const client = new OpenAI({ baseURL: sim.url, apiKey: 'test', maxRetries: 0 });
      const completion = await client.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'OPTIMIZE THIS' }],
      });
      expect(completion.choices[0].message.content).toBe('optimised method');
    } finally {
      await sim.close();
    }
  });
});

describe('simulated LLM rate limits and prompt cache', () => {
  const question = (i: number) =>
    JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `question ${i}` }] });

  it('refuses the request past rpm x burstSeconds / 60 with a 429, retry-after and the x-ratelimit headers', async () => {
    const sim = await startSimLlm({ rateLimits: { rpm: 6, burstSeconds: 30 } });
    try {
      const post = (i: number) => fetch(`${sim.url}/chat/completions`, { method: 'POST', body: question(i) });
      const remaining = [];
      for (let i = 0; i < 3; i++) {
        const ok = await post(i);
        expect(ok.status).toBe(200);
        expect(ok.headers.get('x-ratelimit-limit-requests')).toBe('6');
        expect(ok.headers.get('x-ratelimit-limit-tokens')).toBeNull();
        remaining.push(ok.headers.get('x-ratelimit-remaining-requests'));
      }
      expect(remaining).toEqual(['2', '1', '0']);

      const limited = await post(3);
      expect(limited.status).toBe(429);
      // One request back every 10 s.
      expect(limited.headers.get('retry-after')).toBe('10');
      expect(Number(limited.headers.get('retry-after-ms'))).toBeGreaterThan(9000);
      expect(Number(limited.headers.get('retry-after-ms'))).toBeLessThanOrEqual(10_000);
      expect(limited.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      const reset = parseResetDuration(limited.headers.get('x-ratelimit-reset-requests') ?? '');
      expect(reset).toBeGreaterThan(29_000);
      expect(reset).toBeLessThanOrEqual(30_000);
      expect(await limited.json()).toMatchObject({
        error: { type: 'requests', code: 'rate_limit_exceeded', message: expect.stringMatching(/^Rate limit reached/) },
      });

      // The openai client sees a RateLimitError (retrying is its business; none here).
      const client = new OpenAI({ baseURL: sim.url, apiKey: 'test', maxRetries: 0 });
      const err = await rejectionOf(
        client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'again' }] }),
      );
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('10');

      expect(sim.stats().rateLimited).toEqual({ requests: 2, tokens: 0 });
      expect(sim.stats().faultsInjected).toEqual({});
      expect(sim.requests().map((r) => [r.outcome, r.status])).toEqual([
        ['ok', 200],
        ['ok', 200],
        ['ok', 200],
        ['error', 429],
        ['error', 429],
      ]);
    } finally {
      await sim.close();
    }
  });

  it('/_sim/limits sets a tokens limit at runtime and turns the limits off', async () => {
    const sim = await startSimLlm();
    try {
      const base = sim.url.replace(/\/v1$/, '');
      const setLimits = (body: unknown) => fetch(`${base}/_sim/limits`, { method: 'POST', body: JSON.stringify(body) });
      const post = (content: string) =>
        fetch(`${sim.url}/chat/completions`, {
          method: 'POST',
          body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content }] }),
        });

      const plain = await post('hello');
      expect(plain.headers.get('x-ratelimit-limit-tokens')).toBeNull();
      expect((await setLimits({ rpm: 0 })).status).toBe(400);
      expect((await setLimits({ tpm: 400 })).status).toBe(200);
      expect(await (await fetch(`${base}/_sim/limits`)).json()).toEqual({ tpm: 400 });

      const first = await post('x'.repeat(1000));
      expect(first.status).toBe(200);
      const usage = ((await first.json()) as { usage: { total_tokens: number } }).usage;
      expect(Number(first.headers.get('x-ratelimit-remaining-tokens'))).toBe(400 - usage.total_tokens);
      expect(first.headers.get('x-ratelimit-limit-requests')).toBeNull();
      const second = await post('x'.repeat(1000));
      expect(second.status).toBe(429);
      expect(await second.json()).toMatchObject({ error: { type: 'tokens', code: 'rate_limit_exceeded' } });
      expect(sim.stats().rateLimited).toEqual({ requests: 0, tokens: 1 });

      expect((await setLimits({})).status).toBe(200);
      const free = await post('x'.repeat(1000));
      expect(free.status).toBe(200);
      expect(free.headers.get('x-ratelimit-remaining-tokens')).toBeNull();
    } finally {
      await sim.close();
    }
  });

  it('reports cached prompt tokens for a repeated system prompt, only with promptCache on', async () => {
    const system = 'You are a careful assistant who answers briefly. '.repeat(120);
    const messages = (question: string): ChatMessage[] => [
      { role: 'system', content: system },
      { role: 'user', content: question },
    ];
    const cachedOf = (completion: OpenAI.ChatCompletion) => completion.usage?.prompt_tokens_details?.cached_tokens;

    const sim = await startSimLlm({ promptCache: {} });
    const off = await startSimLlm();
    try {
      const client = new OpenAI({ baseURL: sim.url, apiKey: 'test', maxRetries: 0 });
      const first = await client.chat.completions.create({ model: 'm', messages: messages('What is a prime?') });
      expect(cachedOf(first)).toBe(0);
      const second = await client.chat.completions.create({ model: 'm', messages: messages('What is a square?') });
      // The system prompt's tokens (1470), in OpenAI's steps of 128.
      const systemTokens = Math.ceil(system.length / 4);
      expect(cachedOf(second)).toBe(systemTokens - (systemTokens % 128));
      expect(cachedOf(second)).toBeGreaterThanOrEqual(1024);

      const stream = await client.chat.completions.create({
        model: 'm',
        messages: messages('What is a cube?'),
        stream: true,
        stream_options: { include_usage: true },
      });
      let streamed: number | undefined;
      for await (const chunk of stream) streamed ??= chunk.usage?.prompt_tokens_details?.cached_tokens;
      expect(streamed).toBe(cachedOf(second));

      const offClient = new OpenAI({ baseURL: off.url, apiKey: 'test', maxRetries: 0 });
      await offClient.chat.completions.create({ model: 'm', messages: messages('What is a prime?') });
      const uncached = await offClient.chat.completions.create({ model: 'm', messages: messages('What is a prime?') });
      expect(uncached.usage?.prompt_tokens_details).toBeUndefined();
    } finally {
      await Promise.all([sim.close(), off.close()]);
    }
  });
});

describe('simulated LLM serving a few requests at a time', () => {
  const ask = (client: OpenAI, i: number) =>
    client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `question ${i}` }] });

  it('answers maxInFlight at once and queues the rest in the order they came, as llama.cpp waits for a slot', async () => {
    const sim = await startSimLlm({ maxInFlight: 1, latencyMs: 100, serverKind: 'llama.cpp' });
    try {
      const client = new OpenAI({ baseURL: sim.url, apiKey: 'test', maxRetries: 0 });
      const done: number[] = [];
      await Promise.all([0, 1, 2, 3].map((i) => ask(client, i).then(() => done.push(i))));
      expect(done).toEqual([0, 1, 2, 3]);
      const waits = sim.requests().map((r) => r.waitedMs ?? -1);
      // Each waited for the ones before it: 0, about 100, 200 and 300 ms.
      for (const [i, wait] of waits.entries()) expect(wait).toBeGreaterThanOrEqual(i * 100 - 20);
      expect(sim.stats().queue).toMatchObject({ waiting: 0, peakWaiting: 3, abandoned: 0 });
      expect(sim.stats().peakInFlight).toBe(4);
      // It says how many it serves at once, where llama.cpp's server does.
      const props = (await (await fetch(sim.url.replace(/\/v1$/, '/props'))).json()) as { total_slots: number };
      expect(props.total_slots).toBe(1);
    } finally {
      await sim.close();
    }
  });

  it('counts a request whose client gave up while it waited, and still answers it in its turn', async () => {
    const sim = await startSimLlm({ maxInFlight: 1, latencyMs: 300 });
    try {
      const patient = new OpenAI({ baseURL: sim.url, apiKey: 'test', maxRetries: 0 });
      const hasty = new OpenAI({ baseURL: sim.url, apiKey: 'test', maxRetries: 0, timeout: 100 });
      const [first, second] = await Promise.allSettled([ask(patient, 0), ask(hasty, 1)]);
      expect(first.status).toBe('fulfilled');
      // A timeout (jest's realm hides its kind: the SDK then calls it a connection error).
      expect(second.status === 'rejected' && second.reason).toBeInstanceOf(OpenAI.APIConnectionError);
      await eventually(
        async () => (sim.stats().inFlight === 0 && sim.stats().queue.waiting === 0 ? true : undefined),
        'both requests answered',
        5_000,
      );
      expect(sim.stats().queue.abandoned).toBe(1);
      expect(sim.requests().map((r) => r.abandoned ?? false)).toEqual([false, true]);
      // Neither /props nor Ollama's /api/version: it says nothing of itself.
      expect((await fetch(sim.url.replace(/\/v1$/, '/props'))).status).toBe(404);
      expect((await fetch(sim.url.replace(/\/v1$/, '/api/version'))).status).toBe(404);
    } finally {
      await sim.close();
    }
  });
});
