/**
 * A proxy in front of the real S3 server that injects what object storage does under load: 503 SlowDown, 500
 * InternalError, connections reset, and requests left unanswered past the client's timeout. Requests it lets through
 * reach the server unchanged (headers and all, so their signatures still hold), as do the answers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPrng } from '../../core/prng';

export type S3Fault = 'slow-down' | 'internal-error' | 'reset' | 'hang';

export interface S3FaultProxy {
  endpoint: string;
  /** Faults injected so far, by kind, and requests forwarded. */
  stats(): { forwarded: number; faults: Record<S3Fault, number> };
  /** Stops injecting: every later request goes through. */
  heal(): void;
  close(): Promise<void>;
}

const errorXml = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

export async function startS3FaultProxy(options: {
  target: string;
  /** Share of requests that get a fault, 0-1. */
  faultRate: number;
  seed?: number;
  /** How long a hung request is held before its socket is dropped (beyond the client's timeout). */
  hangMs?: number;
}): Promise<S3FaultProxy> {
  const target = new URL(options.target);
  const random = createPrng(options.seed ?? 7);
  const kinds: S3Fault[] = ['slow-down', 'internal-error', 'reset', 'hang'];
  const faults: Record<S3Fault, number> = { 'slow-down': 0, 'internal-error': 0, reset: 0, hang: 0 };
  let forwarded = 0;
  let rate = options.faultRate;
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    if (random() < rate) {
      const kind = kinds[Math.floor(random() * kinds.length)];
      faults[kind]++;
      req.resume();
      if (kind === 'slow-down') {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end(errorXml('SlowDown', 'Please reduce your request rate.'));
      } else if (kind === 'internal-error') {
        res.writeHead(500, { 'content-type': 'application/xml' });
        res.end(errorXml('InternalError', 'We encountered an internal error. Please try again.'));
      } else if (kind === 'reset') {
        req.socket.destroy();
      } else {
        const timer = setTimeout(() => {
          timers.delete(timer);
          req.socket.destroy();
        }, options.hangMs ?? 5_000);
        timers.add(timer);
      }
      return;
    }
    forwarded++;
    const upstream = http.request(
      {
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => ({ forwarded, faults: { ...faults } }),
    heal: () => (rate = 0),
    close: async () => {
      timers.forEach((timer) => clearTimeout(timer));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
