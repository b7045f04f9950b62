/**
 * The gateway against small OpenAI-compatible servers that take structured output in different ways, over HTTP
 * with the real openai client: OpenAI's `json_schema`, llama-cpp-python's `json_object` with a `schema` (it answers
 * 500 to `json_schema`), and servers that take neither.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LlmGateway } from '../../activities/llm';
import { EQUALITY_VERDICT_SCHEMA } from '../../core/elimination';
import type { LlmEndpoint } from '../../core/endpoints';

type Accepts = 'json_schema' | 'json_object' | 'text';

interface FakeServer {
  url: string;
  bodies: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Answers 500 (as llama-cpp-python does) or 400 to a response_format it does not take; otherwise a verdict. */
async function fakeServer(accepts: Accepts, refusal: 400 | 500 = 500): Promise<FakeServer> {
  const bodies: Array<Record<string, unknown>> = [];
  const server: Server = createServer((req, res) => {
    // Only chat completions here: what else a server is asked (what it says of itself) is not found.
    if (req.method !== 'POST') {
      res.writeHead(404).end();
      return;
    }
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      bodies.push(body);
      const format = (body.response_format as { type?: string } | undefined)?.type;
      const takes = format === undefined || format === accepts || (format === 'text' && accepts === 'text');
      if (!takes) {
        res.writeHead(refusal, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `response_format.type ${format} is not supported`, type: 'x' } }));
        return;
      }
      const content = format ? '{"verdict": "NOT EQUAL"}' : 'They are not the same.';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'c1',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    bodies,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function endpoint(baseURL: string, extra: Partial<LlmEndpoint> = {}): LlmEndpoint {
  return { baseURL, model: 'm', temperature: 0, maxTokens: 32, apiKeyEnv: 'NONE', requestTimeoutMs: 5000, ...extra };
}

const messages = [{ role: 'user' as const, content: 'Compare.' }];
const formats = (bodies: Array<Record<string, unknown>>) =>
  bodies.map((b) => (b.response_format as { type?: string } | undefined)?.type ?? 'none');

describe('structured verdicts where the endpoint takes them, plain text where it does not', () => {
  test("OpenAI's json_schema is asked for first and used when taken", async () => {
    const server = await fakeServer('json_schema');
    try {
      const gateway = new LlmGateway({ env: () => ({}) });
      const answer = await gateway.complete('judge', endpoint(server.url), messages, {
        jsonSchema: EQUALITY_VERDICT_SCHEMA,
      });
      expect(answer.text).toBe('{"verdict": "NOT EQUAL"}');
      expect(formats(server.bodies)).toEqual(['json_schema']);
      expect((server.bodies[0].response_format as { json_schema: unknown }).json_schema).toEqual(
        EQUALITY_VERDICT_SCHEMA,
      );
    } finally {
      await server.close();
    }
  });

  test("llama-cpp-python's json_object with a schema is tried next, and remembered for that endpoint", async () => {
    const server = await fakeServer('json_object', 500);
    try {
      const gateway = new LlmGateway({ env: () => ({}) });
      const options = { jsonSchema: EQUALITY_VERDICT_SCHEMA };
      await gateway.complete('judge', endpoint(server.url), messages, options);
      await gateway.complete('judge', endpoint(server.url), messages, options);
      expect(formats(server.bodies)).toEqual(['json_schema', 'json_object', 'json_object']);
      expect((server.bodies[1].response_format as { schema: unknown }).schema).toEqual(EQUALITY_VERDICT_SCHEMA.schema);
    } finally {
      await server.close();
    }
  });

  test('a server that takes neither is asked in plain text, then always in plain text', async () => {
    const server = await fakeServer('text', 400);
    try {
      const gateway = new LlmGateway({ env: () => ({}) });
      const options = { jsonSchema: EQUALITY_VERDICT_SCHEMA };
      const answer = await gateway.complete('judge', endpoint(server.url), messages, options);
      expect(answer.text).toBe('They are not the same.');
      await gateway.complete('judge', endpoint(server.url), messages, options);
      expect(formats(server.bodies)).toEqual(['json_schema', 'json_object', 'none', 'none']);
    } finally {
      await server.close();
    }
  });

  test('structuredOutput: false never sends a response_format; top_p is sent when set', async () => {
    const server = await fakeServer('json_schema');
    try {
      const gateway = new LlmGateway({ env: () => ({}) });
      await gateway.complete('judge', endpoint(server.url, { structuredOutput: false, topP: 0.95 }), messages, {
        jsonSchema: EQUALITY_VERDICT_SCHEMA,
      });
      expect(formats(server.bodies)).toEqual(['none']);
      expect(server.bodies[0].top_p).toBe(0.95);
    } finally {
      await server.close();
    }
  });

  test('a server that cannot be reached is a connection error, whatever format was asked for', async () => {
    const server = await fakeServer('json_schema');
    await server.close();
    const gateway = new LlmGateway({ env: () => ({}) });
    await expect(
      gateway.complete('judge', endpoint(server.url), messages, { jsonSchema: EQUALITY_VERDICT_SCHEMA }),
    ).rejects.toMatchObject({ type: 'LlmConnectionError' });
  });
});
