/**
 * An HTTP front for an OpenAI-compatible server that records each request's Authorization header and passes the
 * request on unchanged: a test sees which API key reached the LLM without the LLM having to know about keys.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeaderRecorder {
  /** The front's base URL, with the upstream's path (e.g. http://127.0.0.1:PORT/v1). */
  url: string;
  /** The Authorization header of every request, in order ('' when absent). */
  authorizations(): string[];
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const HOP_HEADERS = new Set(['connection', 'content-encoding', 'content-length', 'keep-alive', 'transfer-encoding']);

export async function startHeaderRecorder(upstreamUrl: string): Promise<HeaderRecorder> {
  const upstream = new URL(upstreamUrl);
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    void (async () => {
      const body = await bodyOf(req);
      const answer = await fetch(new URL(req.url ?? '/', upstream.origin), {
        method: req.method,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: body.length > 0 ? body : undefined,
      });
      // fetch has already decoded and measured the body: its framing headers do not apply to what is sent on.
      const headers = [...answer.headers].filter(([name]) => !HOP_HEADERS.has(name));
      res.writeHead(answer.status, Object.fromEntries(headers));
      res.end(Buffer.from(await answer.arrayBuffer()));
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    authorizations: () => seen.slice(),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
