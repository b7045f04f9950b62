import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { startSingleInstruction } from '../client/api';
import { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, loadCodecFromEnv } from '../codec/aes-gcm';
import { startCodecServer } from '../codec/server';
import type { InstructionReport, RunProgress } from '../core/dataset';
import type { Lineage } from '../core/lineage';
import { openAiErrorBody } from '../sim/http';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { resumeSignal } from '../core/messages';
import { historiesText, type History } from './helpers/histories';
import { collect, idsOf, sampleTexts, seedsFromTexts, startRun, waitForProgress } from './helpers/runs';
import {
  connectClient,
  eventually,
  llmAt,
  startWorker,
  testAddress,
  uniqueTaskQueue,
  type TestWorker,
} from './helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

const SECRET = 'sk-evolforge-test-SECRET-1234567890';
const SENTENCE = 'Describe how the quokka librarian catalogues moonlit ferns';

let counter = 0;
const newRunId = (label: string) => `${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`;

/** Every closed execution of a run (dataset and instructions), once visibility lists them all; events as stored. */
async function runHistories(client: Client, runId: string, workflowIds: string[]): Promise<History[]> {
  const executions = await eventually(async () => {
    const found = await collect(client.workflow.list({ query: `EvolRunId = "${runId}"` }));
    const closed = found.every((e) => e.status.name !== 'RUNNING');
    return closed && workflowIds.every((id) => found.some((e) => e.workflowId === id)) ? found : undefined;
  }, `every workflow of run ${runId} to be listed as closed`);
  return Promise.all(executions.map((e) => client.workflow.getHandle(e.workflowId, e.runId).fetchHistory()));
}

/**
 * The payloads of a history, leaving out search attributes (indexed by the server, never encoded) and
 * patch markers (written plain by the SDK's core; they hold only a patch id).
 */
function payloadsOf(value: unknown, out: Payload[] = []): Payload[] {
  if (!value || typeof value !== 'object' || value instanceof Uint8Array) return out;
  if (Array.isArray(value)) {
    value.forEach((v) => payloadsOf(v, out));
    return out;
  }
  const record = value as Record<string, unknown>;
  const metadata = record.metadata as Record<string, Uint8Array> | undefined;
  if (metadata && typeof metadata === 'object' && metadata.encoding instanceof Uint8Array) {
    out.push(record as Payload);
    return out;
  }
  for (const [key, child] of Object.entries(record)) {
    if (key !== 'searchAttributes' && key !== 'markerRecordedEventAttributes') payloadsOf(child, out);
  }
  return out;
}

const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');

describe('an API key never reaches a history or a log', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let storeDir: string;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    sim = await startSimLlm();
    ({ client, connection } = await connectClient());
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-secret-'));
  });

  afterAll(async () => {
    await worker?.kill();
    await connection?.close();
    await sim?.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  test('a run whose LLM rejects the key, echoing it back, leaves the key in no history and no worker log line', async () => {
    const taskQueue = uniqueTaskQueue('secret');
    worker = await startWorkerProcess({
      address: testAddress(),
      taskQueue,
      env: { EVOL_STORE_DIR: storeDir, EVOL_TEST_API_KEY: SECRET, EVOL_CODEC_KEY: '', EVOL_CODEC_KEY_FILE: '' },
    });
    // Providers quote the key they refuse, in full or masked: both must be scrubbed before anything is recorded.
    const masked = `${SECRET.slice(0, 8)}${'*'.repeat(20)}${SECRET.slice(-4)}`;
    sim.addRule({
      match: { contains: '(secret ' },
      status: 401,
      body: openAiErrorBody(401, `Incorrect API key provided: ${SECRET} (${masked}).`),
    });
    const runId = newRunId('secret');
    const seeds = seedsFromTexts(sampleTexts(6, 'secret'));
    const store = new LocalRunStore(storeDir);
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds,
      llm: llmAt(sim.url),
      config: { rounds: 2, concurrency: 3 },
    });
    const paused = await waitForProgress(handle, (p) => p.status === 'paused', 'the rejected key to pause the run');
    expect(paused.pauseReason).toMatch(/LlmAuthenticationError/);
    expect(sim.requests().some((r) => r.status === 401)).toBe(true);

    sim.clearRules();
    await handle.signal(resumeSignal, {});
    const final = (await handle.result()) as RunProgress;
    expect(final.counts).toMatchObject({ done: 6, completed: 6, failed: 0 });

    const histories = await runHistories(client, runId, [
      idsOf(runId).dataset,
      ...seeds.map((s) => idsOf(runId).instruction(s.id)),
    ]);
    const haystack = historiesText(histories);
    // The search sees failure messages and payload contents, so a leak could not hide from it.
    expect(haystack).toContain('rejected the API key');
    expect(haystack).toContain(seeds[0].text);
    expect(haystack).not.toContain(SECRET);
    expect(haystack).not.toContain(SECRET.slice(0, 12));

    // The worker's warnings go to its log file, the terminal only says where: both are searched.
    const log = worker.log();
    expect(log).toContain('Activity failed');
    expect(log).toContain('rejected the API key');
    for (const text of [log, worker.output()]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(SECRET.slice(0, 12));
    }
    expect(worker.output()).not.toContain('Activity failed');
  });
});

describe('with the payload codec, instruction text is ciphertext in every history', () => {
  const keyA = Buffer.alloc(32, 1).toString('base64');
  const keyB = Buffer.alloc(32, 2).toString('base64');
  let sim: SimLlm;
  let dir: string;
  const closers: Array<() => Promise<void>> = [];

  const codecFromKeyFile = (name: string, content: unknown): AesGcmCodec => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(content));
    return loadCodecFromEnv({ EVOL_CODEC_KEY_FILE: file })!;
  };
  const client = async (codec?: AesGcmCodec) => {
    const { client, connection } = await connectClient(codec);
    closers.push(() => connection.close());
    return client;
  };

  beforeAll(async () => {
    sim = await startSimLlm({ latencyMs: 40 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-codec-'));
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await sim?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a run that rotates from key A to key B mid-way finishes, keeps no plaintext, and decodes with the rotated key file', async () => {
    const codecA = codecFromKeyFile('keys-a.json', { current: 'A', keys: { A: keyA } });
    const codecAB = codecFromKeyFile('keys-ab.json', { current: 'B', keys: { A: keyA, B: keyB } });
    const codecB = codecFromKeyFile('keys-b.json', { current: 'B', keys: { B: keyB } });
    const [clientA, clientAB] = [await client(codecA), await client(codecAB)];
    const store = new LocalRunStore(path.join(dir, 'store'));
    const taskQueue = uniqueTaskQueue('codec');
    const env = () => ({ EVOL_TEST_API_KEY: 'k' });
    let worker: TestWorker = await startWorker({ taskQueue, store, env, codec: codecA });
    closers.push(() => worker.close());

    const runId = newRunId('codec');
    const seeds = seedsFromTexts(Array.from({ length: 8 }, (_, i) => `${SENTENCE} (codec ${i + 1}).`));
    await startRun({
      client: clientA,
      store,
      taskQueue,
      runId,
      seeds,
      llm: llmAt(sim.url),
      config: { rounds: 2, concurrency: 2 },
    });
    const single = await startSingleInstruction(clientA, taskQueue, {
      runId,
      instructionId: 'single',
      instruction: `${SENTENCE} (single).`,
      rounds: 2,
      seed: 3,
      llm: llmAt(sim.url),
    });
    const dataset = clientAB.workflow.getHandle(idsOf(runId).dataset);
    await waitForProgress(dataset, (p) => p.counts.done >= 2, 'two instructions done under key A');

    // Rotation: the worker comes back with both keys, B now current, and picks up the histories A sealed.
    await worker.close();
    worker = await startWorker({ taskQueue, store, env, codec: codecAB });
    const final = (await dataset.result()) as RunProgress;
    expect(final.counts).toMatchObject({ done: 8, completed: 8, failed: 0 });
    const lineage = (await clientAB.workflow.getHandle(single.workflowId).result()) as Lineage;
    expect(lineage.seed).toBe(`${SENTENCE} (single).`);
    for (const seed of seeds) {
      // A dataset run's instruction workflow returns its report; the lineage is in the run store.
      const result = (await clientAB.workflow
        .getHandle(idsOf(runId).instruction(seed.id))
        .result()) as InstructionReport;
      expect(result).toMatchObject({ instructionId: seed.id, status: 'completed' });
      expect(result.rounds).toHaveLength(2);
    }

    // Listing decodes memos, so it needs the keys; fetchHistory hands back the events as stored.
    const histories = await runHistories(clientAB, runId, [
      idsOf(runId).dataset,
      single.workflowId,
      ...seeds.map((s) => idsOf(runId).instruction(s.id)),
    ]);
    const haystack = historiesText(histories);
    expect(haystack).not.toContain('quokka');

    const payloads = histories.flatMap((h) => payloadsOf(h));
    expect(payloads.length).toBeGreaterThan(100);
    expect(payloads.filter((p) => text(p.metadata?.encoding) !== ENCRYPTED_ENCODING)).toEqual([]);
    expect(new Set(payloads.map((p) => text(p.metadata?.[KEY_ID_METADATA])))).toEqual(new Set(['A', 'B']));
    // The same payloads, decrypted with the rotated key file, hold the text: the search above was not blind.
    const decoded = await codecAB.decode(payloads);
    expect(decoded.some((p) => text(p.data).includes('quokka'))).toBe(true);

    const sealedWithA = payloads.filter((p) => text(p.metadata?.[KEY_ID_METADATA]) === 'A');
    await expect(codecB.decode(sealedWithA.slice(0, 1))).rejects.toThrow(/key "A".*EVOL_CODEC_KEY_FILE/);
  });
});

describe('the payload codec and its codec server', () => {
  const codec = new AesGcmCodec({ currentKeyId: 'k1', keys: new Map([['k1', Buffer.alloc(32, 7)]]) });
  const plain: Payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"hello"') };

  test('each encoding draws a fresh IV, and an altered ciphertext is refused', async () => {
    const [a, b] = await codec.encode([plain, plain]);
    expect(Buffer.from(a.data!).equals(Buffer.from(b.data!))).toBe(false);
    expect(await codec.decode([a])).toEqual([expect.objectContaining({ data: Buffer.from('"hello"') })]);
    const altered = Buffer.from(a.data!);
    altered[20] ^= 1;
    await expect(codec.decode([{ ...a, data: altered }])).rejects.toThrow(/does not authenticate with key "k1"/);
  });

  test('payloads written before encryption was turned on still decode', async () => {
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  test('bad key settings fail with a message naming what to fix', () => {
    expect(loadCodecFromEnv({})).toBeUndefined();
    expect(() => loadCodecFromEnv({ EVOL_CODEC_KEY: Buffer.alloc(16).toString('base64') })).toThrow(/32 bytes/);
    expect(() => loadCodecFromEnv({ EVOL_CODEC_KEY: 'x', EVOL_CODEC_KEY_FILE: 'y' })).toThrow(/keep one/);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-keys-')), 'keys.json');
    fs.writeFileSync(file, JSON.stringify({ current: 'new', keys: { old: Buffer.alloc(32).toString('base64') } }));
    expect(() => loadCodecFromEnv({ EVOL_CODEC_KEY_FILE: file })).toThrow(/current key "new" is not among its keys/);
    expect(loadCodecFromEnv({ EVOL_CODEC_KEY: Buffer.alloc(32).toString('base64') })?.currentKeyId).toBe('default');
  });

  test('the codec server answers the UI: CORS preflight with X-Namespace, then /decode and /encode round trips', async () => {
    const ui = 'http://127.0.0.1:8233';
    const server = await startCodecServer({ codec, port: 0, uiOrigins: [ui] });
    try {
      const preflight = await fetch(`${server.url}/decode`, {
        method: 'OPTIONS',
        headers: {
          Origin: ui,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type,x-namespace',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(ui);
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/i);

      const wire = (p: Payload) => ({
        metadata: Object.fromEntries(
          Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
        data: Buffer.from(p.data!).toString('base64'),
      });
      const post = (route: string, payloads: unknown[], origin = ui) =>
        fetch(`${server.url}/${route}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Origin: origin },
          body: JSON.stringify({ payloads }),
        });

      const encodedRes = await post('encode', [wire(plain)]);
      expect(encodedRes.status).toBe(200);
      type WireBody = { payloads: Array<{ metadata: Record<string, string>; data: string }> };
      const encoded = ((await encodedRes.json()) as WireBody).payloads;
      expect(Buffer.from(encoded[0].metadata.encoding, 'base64').toString()).toBe(ENCRYPTED_ENCODING);

      const decodedRes = await post('default/decode', encoded);
      expect(decodedRes.headers.get('access-control-allow-origin')).toBe(ui);
      expect(((await decodedRes.json()) as WireBody).payloads).toEqual([wire(plain)]);

      const elsewhere = await post('decode', encoded, 'http://evil.example');
      expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
      expect((await post('decode', [{ data: 'x' }, 'not a payload'])).status).toBe(400);
    } finally {
      await server.close();
    }
  });
});
