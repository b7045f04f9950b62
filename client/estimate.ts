/**
 * `evol estimate`: what a run of a seed file would cost (calls, tokens per role, dollars, wall time) before any call
 * is made, for the settings `evol run` with the same options would create. With `--sample N` it first asks the LLM
 * about N seeds' round 1 to learn how long its answers are.
 */
import { SIM_BASE_URL, type LlmEndpoint } from '../core/endpoints';
import { estimateRun, promptChars, type LearnedLengths } from '../core/estimate';
import { planOperations } from '../core/plan';
import type { SeedRecord } from '../core/run';
import type { DatasetRunConfig } from '../core/settings-schemas';
import { UserError } from '../core/validation';
import { ROUND_CALLS, type CallRequest } from '../activities/evolution';
import { LlmGateway } from '../activities/llm';
import { lazySimulatedLlm } from '../sim/lazy';
import { formatEstimate } from './estimate-table';
import { stderr } from './format';
import { resolveNewRun, type NewRunOptions } from './run';

export interface EstimateOptions extends NewRunOptions {
  /** Ask the LLM about this many seeds first, to learn its answer lengths (3 calls a seed). */
  sample?: number;
  /** A fixed time per online call, instead of the latency model. */
  latencyMs?: number;
  json?: boolean;
}

export async function runEstimate(options: EstimateOptions): Promise<void> {
  if (!options.input) throw new UserError('--input FILE is needed: the seed file of the run to estimate');
  const { input, report, settings } = await resolveNewRun(options);
  if (report.seeds.length === 0) throw new UserError(`${input}: no seeds to estimate`);
  const learned = options.sample ? await sampleLengths(settings, report.seeds, options.sample) : undefined;
  const estimate = estimateRun({
    seeds: report.seeds,
    settings,
    ...(learned ? { learned } : {}),
    ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
  });
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ...estimate, ...(learned ? { sampled: learned } : {}) }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatEstimate(estimate, { input, method: settings.method })}\n`);
  }
}

/** Every `step`-th seed, `count` of them: a sample spread over the file rather than its first lines. */
function spread<T>(items: readonly T[], count: number): T[] {
  const step = items.length / Math.min(count, items.length);
  return Array.from({ length: Math.min(count, items.length) }, (_, i) => items[Math.floor(i * step)]);
}

const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : undefined);

/**
 * Asks the LLM what round 1 asks of `count` seeds (the rewrite, then its answer and the verdict), online and outside
 * any run, and returns how long its answers were.
 */
export async function sampleLengths(
  settings: DatasetRunConfig,
  seeds: readonly SeedRecord[],
  count: number,
): Promise<LearnedLengths> {
  const sim = lazySimulatedLlm();
  const gateway = new LlmGateway({ simulatedBaseUrl: sim.baseUrl });
  const prompts = { chars: 0, tokens: 0 };
  let calls = 0;
  const ask = async (request: CallRequest) => {
    calls++;
    try {
      const completion = await gateway.complete(request.role, request.endpoint, request.messages, request.options);
      prompts.chars += promptChars(request.messages);
      prompts.tokens += completion.usage.promptTokens;
      return completion;
    } catch (err) {
      throw new UserError(`--sample: the ${request.role} LLM did not answer: ${(err as Error).message}`);
    }
  };
  const growth: number[] = [];
  const responses: number[] = [];
  const verdicts: number[] = [];
  const { llm } = settings;
  const endpoint = (e: LlmEndpoint) => ({ ...e, batch: false });
  const picked = spread(seeds, count);
  stderr(
    `Sampling ${picked.length} seed(s): ${picked.length * 3} LLM calls${llm.evolver.baseURL === SIM_BASE_URL ? ' (simulated)' : ''}, not part of any run.`,
  );
  try {
    for (const seed of picked) {
      const operation = planOperations(settings.operations, settings.seed, seed.id, 1)[0];
      const mutateInput = { evolver: endpoint(llm.evolver), operation, instruction: seed.text };
      const rewrite = ROUND_CALLS.mutate.result(mutateInput, await ask(ROUND_CALLS.mutate.request(mutateInput)));
      if (rewrite.ok === false) continue;
      growth.push(rewrite.instruction.length - seed.text.length);
      const respondInput = { responder: endpoint(llm.responder), instruction: rewrite.instruction };
      const judgeInput = { judge: endpoint(llm.judge), parent: seed.text, instruction: rewrite.instruction };
      const [response, verdict] = await Promise.all([
        ask(ROUND_CALLS.respond.request(respondInput)),
        ask(ROUND_CALLS.judgeEquality.request(judgeInput)),
      ]);
      responses.push(response.usage.completionTokens);
      verdicts.push(verdict.usage.completionTokens);
    }
  } finally {
    await sim.close();
  }
  const learned: LearnedLengths = {
    seeds: picked.length,
    calls,
    ...(mean(growth) !== undefined ? { rewriteGrowthChars: mean(growth) } : {}),
    ...(mean(responses) !== undefined ? { responseTokens: Math.round(mean(responses)!) } : {}),
    ...(mean(verdicts) !== undefined ? { verdictTokens: Math.round(mean(verdicts)!) } : {}),
    ...(prompts.tokens > 0 ? { charsPerToken: prompts.chars / prompts.tokens } : {}),
  };
  if (!growth.length) stderr('No sampled rewrite was usable: the estimate keeps its assumed answer lengths.');
  return learned;
}
