/**
 * What an OpenAI-compatible server says of itself, asked once per endpoint by the worker before its first call (the
 * in-flight limit starts from it: core/in-flight-limit.ts). Four small GETs at the server's root, at once, each given
 * a few seconds; a server that answers none of them (OpenAI, vLLM) says nothing, and nothing is assumed.
 * - llama.cpp's server: `GET /props`, `total_slots` (the requests it serves at once; `--parallel`).
 * - llama-cpp-python's: `GET /openapi.json`, titled "llama.cpp Python API"; it serves one request at a time, always.
 *   (Its `/v1/models` waits behind the request it is serving, so it cannot be asked there.)
 * - Ollama: `GET /api/version`. How many it serves at once (`OLLAMA_NUM_PARALLEL`) it does not say.
 * - LM Studio: `GET /api/v0/models`, whose models carry a `compatibility_type`. Nor does it say how many.
 */
import type { ServerWord } from '../core/in-flight-limit';

/** Each question gets this long: a local server answers in milliseconds. */
const ASK_TIMEOUT_MS = 3_000;

/** The server's root: the base URL without its `/v1`. */
export function serverRoot(baseURL: string): string {
  return baseURL.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/** The JSON at `path`, or undefined for an error, a non-JSON answer or no answer; `reached` says if it answered. */
async function getJson(
  root: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ reached: boolean; json?: unknown }> {
  try {
    const response = await fetch(`${root}${path}`, { headers, signal: AbortSignal.timeout(ASK_TIMEOUT_MS) });
    if (!response.ok) {
      await response.body?.cancel();
      return { reached: true };
    }
    return { reached: true, json: await response.json().catch(() => undefined) };
  } catch {
    return { reached: false };
  }
}

function field(json: unknown, name: string): unknown {
  return typeof json === 'object' && json !== null ? (json as Record<string, unknown>)[name] : undefined;
}

/**
 * What the server at `baseURL` says of itself. `reached` is false when it answered none of the questions (it is down,
 * or not there yet): ask again later. The key, when set, goes with the questions (llama.cpp's `/props` wants it).
 */
export async function askServer(baseURL: string, apiKey?: string): Promise<{ word: ServerWord; reached: boolean }> {
  const root = serverRoot(baseURL);
  const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  const [props, openapi, version, lmStudio] = await Promise.all(
    ['/props', '/openapi.json', '/api/version', '/api/v0/models'].map((path) => getJson(root, path, headers)),
  );
  const reached = [props, openapi, version, lmStudio].some((answer) => answer.reached);
  const slots = field(props.json, 'total_slots');
  if (typeof slots === 'number' && Number.isInteger(slots) && slots >= 1) {
    return { word: { kind: 'llama.cpp', slots }, reached };
  }
  const title = field(field(openapi.json, 'info'), 'title');
  if (typeof title === 'string' && /llama\.cpp Python/i.test(title)) {
    return { word: { kind: 'llama-cpp-python', slots: 1 }, reached };
  }
  if (typeof field(version.json, 'version') === 'string') return { word: { kind: 'Ollama' }, reached };
  const models = field(lmStudio.json, 'data');
  if (Array.isArray(models) && models.some((model) => field(model, 'compatibility_type') !== undefined)) {
    return { word: { kind: 'LM Studio' }, reached };
  }
  return { word: {}, reached };
}
