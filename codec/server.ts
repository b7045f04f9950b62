/**
 * A codec server (Temporal's remote codec protocol): Temporal UI and `temporal --codec-endpoint` POST
 * `{ payloads }` to /decode or /encode (optionally under a /<namespace>/ prefix) and get them back
 * through the codec. Whoever can reach it can decrypt, so it listens on loopback unless told otherwise,
 * and answers CORS only for the UI origins it is given.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

export const DEFAULT_UI_ORIGINS = ['http://127.0.0.1:8233', 'http://localhost:8233'];
/** Temporal caps a payload at 2 MB; the UI sends a whole history's worth in one request. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Default 8888; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Browser origins allowed to call it (Temporal UI). Default: the local UI on 8233 by IP and by name. */
  uiOrigins?: string[];
}

export interface CodecServer {
  /** Base URL to give the UI (`--ui-codec-endpoint`) or the CLI (`--codec-endpoint`). */
  url: string;
  close(): Promise<void>;
}

// proto3 JSON leaves empty fields out: `{}` is a request with no payloads.
const WirePayloadsSchema = z.object({
  payloads: z
    .array(
      z.object({
        metadata: z.record(z.string(), z.string()).nullish(),
        data: z.string().nullish(),
      }),
    )
    .default([]),
});

type WirePayload = z.infer<typeof WirePayloadsSchema>['payloads'][number];

/** proto3 JSON carries bytes as base64: the metadata values and the data alike. */
function fromWire(wire: WirePayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(wire.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(wire.data ?? '', 'base64'),
  };
}

function toWire(payload: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v ?? new Uint8Array()).toString('base64'),
      ]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

function corsHeaders(req: http.IncomingMessage, origins: ReadonlySet<string>): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin || !origins.has(origin)) return {};
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Methods': 'POST, OPTIONS',
    'Access-Control-Allow-Headers': 'Content-Type, X-Namespace, Authorization',
    'Access-Control-Allow-Credentials': 'true',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
  };
}

function routeOf(url: string | undefined): 'encode' | 'decode' | undefined {
  const pathname = new URL(url ?? '/', 'http://codec.invalid').pathname.replace(/\/+$/, '');
  if (pathname.endsWith('/decode')) return 'decode';
  if (pathname.endsWith('/encode')) return 'encode';
  return undefined;
}

export function codecRequestHandler(
  codec: PayloadCodec,
  uiOrigins: readonly string[] = DEFAULT_UI_ORIGINS,
): http.RequestListener {
  const origins = new Set(uiOrigins.map((o) => o.replace(/\/+$/, '')));
  return (req, res) => {
    const cors = corsHeaders(req, origins);
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, { ...cors, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const route = routeOf(req.url);
    if (!route) return send(404, { message: 'not found: POST /decode or /encode' });
    if (req.method === 'OPTIONS') return send(204);
    if (req.method !== 'POST') return send(405, { message: `${req.method} not allowed: use POST` });
    void (async () => {
      try {
        const parsed = WirePayloadsSchema.safeParse(await readJson(req));
        if (!parsed.success) throw new HttpError(400, 'expected {"payloads": [{"metadata": {...}, "data": "..."}]}');
        const payloads = parsed.data.payloads.map(fromWire);
        const out = route === 'decode' ? await codec.decode(payloads) : await codec.encode(payloads);
        send(200, { payloads: out.map(toWire) });
      } catch (err) {
        const status = err instanceof HttpError ? err.status : 400;
        send(status, { message: err instanceof Error ? err.message : String(err) });
      }
    })();
  };
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const host = options.host ?? '127.0.0.1';
  const server = http.createServer(codecRequestHandler(options.codec, options.uiOrigins ?? DEFAULT_UI_ORIGINS));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8888, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
