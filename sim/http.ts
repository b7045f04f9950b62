/** HTTP plumbing for the simulated LLM: request bodies, JSON replies and OpenAI-style errors. */
import { IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';

/** Bodies above this size are refused; real chat requests are far smaller. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export class BodyTooLargeError extends Error {}

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLargeError(`the request body is larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Writes unless the client has already gone (a timeout while we were waiting, say). */
export function sendRaw(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string | number> = {},
): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  sendRaw(res, status, JSON.stringify(body), headers);
}

/** The error `type` the OpenAI API gives a status. */
function errorType(status: number): string {
  const kind = { 401: 'authentication', 403: 'permission', 404: 'not_found', 408: 'timeout', 429: 'rate_limit' }[
    status
  ];
  return kind ? `${kind}_error` : status >= 500 ? 'server_error' : 'invalid_request_error';
}

/** Its `code`: the API's own for a wrong key and a rate limit, else the status's name (`bad_gateway`). */
function errorCode(status: number): string {
  if (status === 401) return 'invalid_api_key';
  if (status === 429) return 'rate_limit_exceeded';
  return STATUS_CODES[status]?.toLowerCase().replace(/[^a-z]+/g, '_') ?? `http_${status}`;
}

/** The error body the OpenAI API sends, which the openai SDK turns into its typed errors. */
export function openAiErrorBody(status: number, message?: string): { error: Record<string, unknown> } {
  return {
    error: {
      message: message ?? `simulated ${status} ${STATUS_CODES[status] ?? 'error'}`,
      type: errorType(status),
      param: null,
      code: errorCode(status),
    },
  };
}

export function sendError(
  res: ServerResponse,
  status: number,
  message?: string,
  headers: Record<string, string | number> = {},
): void {
  sendJson(res, status, openAiErrorBody(status, message), headers);
}
