/**
 * The simulated LLM's Files and Batch API, as OpenAI's: upload a JSONL input file (`POST /v1/files`, purpose
 * `batch`), create a batch from it (`POST /v1/batches`), poll it (`GET /v1/batches/{id}`, `GET /v1/batches`), cancel it
 * (`POST /v1/batches/{id}/cancel`), and download its output and error files (`GET /v1/files/{id}/content`).
 *
 * A batch finishes `completionDelayMs` after it was created (its rows are answered then, by the same answers the
 * chat endpoint gives); until then it is in progress, its rows counted done in proportion to the time gone. Faults
 * are scripted per batch created: expiry after a share of its rows is done, failed rows, or the response to its
 * creation lost after the batch was made (what a crash between creating a batch and recording it looks like).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendError, sendJson, sendRaw } from './http';

/** A fault for the next batches created (each takes one, `times` times; default once). */
export interface SimBatchFault {
  /** The batch expires once this share of its rows (0..1) is done: the rest are in its error file as expired. */
  expireAfterFraction?: number;
  /** This many of its rows (the first ones) fail with a 500 in its error file. */
  failRows?: number;
  /** The batch is created, then the connection is reset before the answer is sent. */
  dropCreateResponse?: boolean;
  times?: number;
}

/** What the simulator kept of one batch, for tests: every batch ever created, in order. */
export interface SimBatchRecord {
  id: string;
  metadata: Record<string, string>;
  status: string;
  customIds: string[];
  createdAtMs: number;
  requestCounts: { total: number; completed: number; failed: number };
}

export interface SimBatchOptions {
  /** How long a batch takes to finish (default 1000 ms). */
  completionDelayMs?: number;
  /** Answers one row's request body as the chat endpoint would (status and JSON body). */
  answer: (body: unknown, batchId: string) => { status: number; body: unknown };
}

interface SimFile {
  id: string;
  filename: string;
  purpose: string;
  content: string;
  createdAtMs: number;
}

interface InputRow {
  custom_id: string;
  body: unknown;
}

interface SimBatch {
  record: SimBatchRecord;
  endpoint: string;
  inputFileId: string;
  completionWindow: string;
  rows: InputRow[];
  fault?: SimBatchFault;
  cancelledAtMs?: number;
  outputFileId?: string;
  errorFileId?: string;
  finishedAtMs?: number;
}

const TERMINAL = ['completed', 'expired', 'cancelled', 'failed'];

export class SimBatchApi {
  private readonly files = new Map<string, SimFile>();
  private readonly batchesById = new Map<string, SimBatch>();
  private readonly order: SimBatch[] = [];
  private faults: SimBatchFault[] = [];
  private seq = 0;

  constructor(private readonly options: SimBatchOptions) {}

  addFault(fault: SimBatchFault): void {
    this.faults.push({ ...fault, times: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Every batch created so far, oldest first (copies). */
  batches(): SimBatchRecord[] {
    return this.order.map((b) => ({
      ...b.record,
      metadata: { ...b.record.metadata },
      customIds: [...b.record.customIds],
    }));
  }

  /** Handles the request when it is one of the Files or Batch API's; false otherwise. */
  async route(req: IncomingMessage, res: ServerResponse, path: string, method: string): Promise<boolean> {
    const p = path.replace(/^\/v1/, '');
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    let m: RegExpMatchArray | null;
    if (p === '/files' && method === 'POST') await this.upload(req, res);
    else if (p === '/files' && method === 'GET') this.listFiles(res, query);
    else if ((m = p.match(/^\/files\/([^/]+)\/content$/)) && method === 'GET') this.fileContent(res, m[1]);
    else if ((m = p.match(/^\/files\/([^/]+)$/)) && method === 'GET') this.fileInfo(res, m[1]);
    else if (p === '/batches' && method === 'POST') await this.create(req, res);
    else if (p === '/batches' && method === 'GET') this.list(res, query);
    else if ((m = p.match(/^\/batches\/([^/]+)\/cancel$/)) && method === 'POST') this.cancel(res, m[1]);
    else if ((m = p.match(/^\/batches\/([^/]+)$/)) && method === 'GET') this.retrieve(res, m[1]);
    else return false;
    return true;
  }

  private async upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = req.headers['content-type'] ?? '';
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
    if (!boundary) return sendError(res, 400, 'the upload must be multipart/form-data');
    const parts = parseMultipart(await readBody(req), boundary[1] ?? boundary[2]);
    const file = parts.find((part) => part.name === 'file');
    const purpose = parts.find((part) => part.name === 'purpose')?.content;
    if (!file) return sendError(res, 400, "the upload has no 'file' part");
    if (purpose !== 'batch') return sendError(res, 400, `purpose must be 'batch' here, got '${purpose ?? ''}'`);
    const id = `file-sim-${++this.seq}`;
    const stored: SimFile = {
      id,
      filename: file.filename ?? 'upload.jsonl',
      purpose,
      content: file.content,
      createdAtMs: Date.now(),
    };
    this.files.set(id, stored);
    sendJson(res, 200, fileObject(stored));
  }

  private listFiles(res: ServerResponse, query: URLSearchParams): void {
    const purpose = query.get('purpose');
    const data = [...this.files.values()].filter((f) => !purpose || f.purpose === purpose).reverse();
    sendJson(res, 200, { object: 'list', data: data.map(fileObject), has_more: false });
  }

  private fileInfo(res: ServerResponse, id: string): void {
    const file = this.files.get(id);
    if (!file) return sendError(res, 404, `no file ${id}`);
    sendJson(res, 200, fileObject(file));
  }

  private fileContent(res: ServerResponse, id: string): void {
    const file = this.files.get(id);
    if (!file) return sendError(res, 404, `no file ${id}`);
    sendRaw(res, 200, file.content, { 'content-type': 'application/jsonl' });
  }

  private async create(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: { input_file_id?: unknown; endpoint?: unknown; completion_window?: unknown; metadata?: unknown };
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return sendError(res, 400, 'the request body is not valid JSON');
    }
    const file = typeof body.input_file_id === 'string' ? this.files.get(body.input_file_id) : undefined;
    if (!file) return sendError(res, 400, `no input file ${String(body.input_file_id)}`);
    if (body.endpoint !== '/v1/chat/completions') {
      return sendError(res, 400, `this simulator batches /v1/chat/completions only, not ${String(body.endpoint)}`);
    }
    const rows: InputRow[] = [];
    const seen = new Set<string>();
    for (const [i, line] of file.content.split('\n').entries()) {
      if (!line.trim()) continue;
      let row: { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
      try {
        row = JSON.parse(line);
      } catch {
        return sendError(res, 400, `line ${i + 1} of ${file.id} is not valid JSON`);
      }
      if (typeof row.custom_id !== 'string' || seen.has(row.custom_id)) {
        return sendError(res, 400, `line ${i + 1} of ${file.id}: custom_id missing or not unique`);
      }
      seen.add(row.custom_id);
      rows.push({ custom_id: row.custom_id, body: row.body });
    }
    const metadata = Object.fromEntries(
      Object.entries((body.metadata ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    );
    const fault = this.takeFault();
    const batch: SimBatch = {
      record: {
        id: `batch_sim_${++this.seq}`,
        metadata,
        status: 'in_progress',
        customIds: rows.map((r) => r.custom_id),
        createdAtMs: Date.now(),
        requestCounts: { total: rows.length, completed: 0, failed: 0 },
      },
      endpoint: body.endpoint,
      inputFileId: file.id,
      completionWindow: typeof body.completion_window === 'string' ? body.completion_window : '24h',
      rows,
      ...(fault ? { fault } : {}),
    };
    this.batchesById.set(batch.record.id, batch);
    this.order.push(batch);
    if (fault?.dropCreateResponse) {
      req.socket.destroy();
      return;
    }
    sendJson(res, 200, this.batchObject(batch));
  }

  private list(res: ServerResponse, query: URLSearchParams): void {
    const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 20) || 20));
    const after = query.get('after');
    const newestFirst = [...this.order].reverse();
    const start = after ? newestFirst.findIndex((b) => b.record.id === after) + 1 : 0;
    const page = newestFirst.slice(start, start + limit);
    page.forEach((b) => this.advance(b));
    sendJson(res, 200, {
      object: 'list',
      data: page.map((b) => this.batchObject(b)),
      first_id: page[0]?.record.id ?? null,
      last_id: page[page.length - 1]?.record.id ?? null,
      has_more: start + limit < newestFirst.length,
    });
  }

  private retrieve(res: ServerResponse, id: string): void {
    const batch = this.batchesById.get(id);
    if (!batch) return sendError(res, 404, `no batch ${id}`);
    this.advance(batch);
    sendJson(res, 200, this.batchObject(batch));
  }

  private cancel(res: ServerResponse, id: string): void {
    const batch = this.batchesById.get(id);
    if (!batch) return sendError(res, 404, `no batch ${id}`);
    this.advance(batch);
    if (!TERMINAL.includes(batch.record.status)) {
      batch.cancelledAtMs = Date.now();
      batch.record.status = 'cancelling';
    }
    sendJson(res, 200, this.batchObject(batch));
  }

  private takeFault(): SimBatchFault | undefined {
    const fault = this.faults[0];
    if (!fault) return undefined;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.shift();
    return fault;
  }

  /** Moves a batch on by the time gone: in progress, or finished (completed, expired, cancelled). */
  private advance(batch: SimBatch): void {
    const { record } = batch;
    if (TERMINAL.includes(record.status)) return;
    const delay = this.options.completionDelayMs ?? 1000;
    const n = batch.rows.length;
    const doneBy = (at: number) => Math.min(n, Math.floor((n * Math.max(0, at - record.createdAtMs)) / (delay || 1)));
    if (batch.cancelledAtMs !== undefined) return this.finish(batch, 'cancelled', doneBy(batch.cancelledAtMs));
    const now = Date.now();
    if (now - record.createdAtMs < delay) {
      record.requestCounts.completed = doneBy(now);
      return;
    }
    const expireAt = batch.fault?.expireAfterFraction;
    if (expireAt !== undefined) return this.finish(batch, 'expired', Math.floor(n * expireAt));
    this.finish(batch, 'completed', n);
  }

  /** Answers the first `done` rows; the rest are left undone with the batch's ending as their error. */
  private finish(batch: SimBatch, status: 'completed' | 'expired' | 'cancelled', done: number): void {
    const output: string[] = [];
    const errors: string[] = [];
    const failRows = batch.fault?.failRows ?? 0;
    batch.rows.forEach((row, i) => {
      const id = `batch_req_${batch.record.id}_${i}`;
      if (i >= done) {
        const code = status === 'expired' ? 'batch_expired' : 'batch_cancelled';
        const message = `This request could not be executed before the batch ${status === 'expired' ? 'expired' : 'was cancelled'}.`;
        errors.push(JSON.stringify({ id, custom_id: row.custom_id, response: null, error: { code, message } }));
        return;
      }
      const answer =
        i < failRows
          ? { status: 500, body: { error: { message: 'simulated failed row', type: 'server_error', code: null } } }
          : this.options.answer(row.body, batch.record.id);
      const line = JSON.stringify({
        id,
        custom_id: row.custom_id,
        response: { status_code: answer.status, request_id: `sim-${id}`, body: answer.body },
        error: null,
      });
      (answer.status === 200 ? output : errors).push(line);
    });
    batch.record.status = status;
    batch.record.requestCounts = { total: batch.rows.length, completed: output.length, failed: errors.length };
    batch.finishedAtMs = Date.now();
    if (output.length) batch.outputFileId = this.addFile(`${batch.record.id}_output.jsonl`, output);
    if (errors.length) batch.errorFileId = this.addFile(`${batch.record.id}_error.jsonl`, errors);
  }

  private addFile(filename: string, lines: string[]): string {
    const id = `file-sim-${++this.seq}`;
    this.files.set(id, {
      id,
      filename,
      purpose: 'batch_output',
      content: lines.join('\n') + '\n',
      createdAtMs: Date.now(),
    });
    return id;
  }

  private batchObject(batch: SimBatch): Record<string, unknown> {
    const { record } = batch;
    const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.floor(ms / 1000));
    return {
      id: record.id,
      object: 'batch',
      endpoint: batch.endpoint,
      errors: null,
      input_file_id: batch.inputFileId,
      completion_window: batch.completionWindow,
      status: record.status,
      output_file_id: batch.outputFileId ?? null,
      error_file_id: batch.errorFileId ?? null,
      created_at: seconds(record.createdAtMs),
      in_progress_at: seconds(record.createdAtMs),
      expires_at: seconds(record.createdAtMs + 24 * 3600_000),
      completed_at: record.status === 'completed' ? seconds(batch.finishedAtMs) : null,
      expired_at: record.status === 'expired' ? seconds(batch.finishedAtMs) : null,
      cancelling_at: seconds(batch.cancelledAtMs),
      cancelled_at: record.status === 'cancelled' ? seconds(batch.finishedAtMs) : null,
      failed_at: null,
      request_counts: { ...record.requestCounts },
      metadata: { ...record.metadata },
    };
  }
}

function fileObject(file: SimFile): Record<string, unknown> {
  return {
    id: file.id,
    object: 'file',
    bytes: Buffer.byteLength(file.content),
    created_at: Math.floor(file.createdAtMs / 1000),
    filename: file.filename,
    purpose: file.purpose,
    status: 'processed',
  };
}

/** The parts of a multipart/form-data body: each one's name, file name and content (text). */
function parseMultipart(body: string, boundary: string): Array<{ name?: string; filename?: string; content: string }> {
  return body
    .split(`--${boundary}`)
    .slice(1)
    .filter((part) => !part.startsWith('--'))
    .map((part) => {
      const headerEnd = part.indexOf('\r\n\r\n');
      const headers = part.slice(0, headerEnd);
      const content = part.slice(headerEnd + 4).replace(/\r\n$/, '');
      const name = /name="([^"]*)"/i.exec(headers)?.[1];
      const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
      return { ...(name !== undefined ? { name } : {}), ...(filename !== undefined ? { filename } : {}), content };
    });
}
