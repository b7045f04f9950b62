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

const ERROR_TYPES: Record<number, { type: string; code: string }> = {
  400: { type: 'invalid_request_error', code: 'invalid_request' },
  401: { type: 'authentication_error', code: 'invalid_api_key' },
  403: { type: 'permission_error', code: 'permission_denied' },
  404: { type: 'not_found_error', code: 'not_found' },
  408: { type: 'timeout_error', code: 'request_timeout' },
  409: { type: 'conflict_error', code: 'conflict' },
  413: { type: 'invalid_request_error', code: 'request_too_large' },
  422: { type: 'invalid_request_error', code: 'unprocessable_entity' },
  429: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  500: { type: 'server_error', code: 'internal_error' },
  502: { type: 'server_error', code: 'bad_gateway' },
  503: { type: 'server_error', code: 'service_unavailable' },
  504: { type: 'server_error', code: 'gateway_timeout' },
};

/** The error body the OpenAI API sends, which the openai SDK turns into its typed errors. */
export function openAiErrorBody(status: number, message?: string): { error: Record<string, unknown> } {
  const known = ERROR_TYPES[status] ?? {
    type: status >= 500 ? 'server_error' : 'invalid_request_error',
    code: `http_${status}`,
  };
  return {
    error: {
      message: message ?? `simulated ${status} ${STATUS_CODES[status] ?? 'error'}`,
      type: known.type,
      param: null,
      code: known.code,
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
