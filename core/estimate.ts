/**
 * What a dataset run will cost before any call is made: its LLM calls, their tokens per role, their cost by the run's
 * price table and its wall time. The prompts are the ones the run sends (built by the same functions, from the seeds
 * and the operation plan each seed gets); what cannot be known before the run, the length of each answer, is assumed
 * and said (ESTIMATE_ASSUMPTIONS), or learned from a few real calls (`evol estimate --sample N`).
 */
import { pollDelayMs, resolveBatchSettings, type ResolvedBatchSettings } from './batch';
import { EQUALITY_VERDICT_SCHEMA, TASK_FIELDS, buildEqualityMessages } from './elimination';
import { LLM_ROLES, SIM_BASE_URL, type LlmEndpoint, type LlmRole } from './endpoints';
import { buildMutationMessages, buildResponseMessages, type Operation } from './operations';
import { planOperations } from './plan';
import { costOf, type CallMode } from './pricing';
import { TARGET_FRACTION } from './rate-limits';
import type { ChatMessage } from './chat';
import type { RunEstimateSummary } from './run';
import type { DatasetRunConfig } from './settings-schemas';
import { addUsage, ZERO_USAGE, type Usage } from './usage';

/** What the estimate assumes where it cannot know; each is printed with the estimate. */
export const ESTIMATE_ASSUMPTIONS = {
  /** Characters per token, as the rate limiter and the Batch API activities count them. */
  charsPerToken: 4,
  /**
   * A typical answer of the responder, in tokens (its maxTokens when lower): the rate limiter's own guess before it
   * has seen an answer (activities/call-gate.ts), an eighth of the default 2,048.
   */
  responseTokens: 256,
  /** Characters an in-depth rewrite adds to its parent: the 10 to 20 words its prompt allows, at 6 characters a word. */
  rewriteGrowthChars: 90,
  /** Characters a rewrite adds when its operation writes data or code into the task (a table, a snippet). */
  dataGrowthChars: 240,
  /** A call's time: this long before its first token, then this many answer tokens a second (a hosted model's pace). */
  firstTokenMs: 500,
  tokensPerSecond: 50,
  /** The simulated Batch API answers a batch this long after it was created (sim/batch-api.ts). */
  simulatedBatchMs: 1000,
  /** The longest a provider takes to answer a batch (OpenAI's completion window). */
  batchWindowMs: 24 * 3600_000,
} as const;

/** Operations that write a block of data or code into the task, so their rewrites grow by more than a sentence. */
const DATA_OPERATIONS: ReadonlySet<string> = new Set(['complicating-input', 'code-erroneous-reference']);

/** Answer lengths learned from a few real calls (`--sample N`), replacing the assumptions they measure. */
export interface LearnedLengths {
  /** Seeds sampled, and the calls made for it. */
  seeds: number;
  calls: number;
  /** Mean completion tokens of the responder's and the judge's answers. */
  responseTokens?: number;
  verdictTokens?: number;
  /** Mean characters a rewrite added to its parent (may be negative). */
  rewriteGrowthChars?: number;
  /** The endpoint's characters per prompt token. */
  charsPerToken?: number;
}

export interface EstimateRequest {
  seeds: ReadonlyArray<{ id: string; text: string; output?: string }>;
  /** The run's settings, as `evol run` would create it (defaults applied). */
  settings: Pick<
    DatasetRunConfig,
    'rounds' | 'seed' | 'llm' | 'operations' | 'concurrency' | 'prices' | 'answerSeeds' | 'batch'
  >;
  learned?: LearnedLengths;
  /** A fixed time per online call instead of the latency model. */
  latencyMs?: number;
}

export interface RoleEstimate {
  model: string;
  mode: CallMode;
  calls: number;
  usage: Usage;
  costUsd: number;
  /** No price in the run's table: its cost counts as 0. */
  unpriced: boolean;
}

export interface WallTime {
  seconds: number;
  /** Batch API mode: if every batch took the provider's whole completion window. */
  upperSeconds?: number;
  /** What bounds it: the instructions at once (concurrency), or an endpoint's rate limit. */
  boundBy: string;
}

export interface RunEstimate {
  seeds: number;
  rounds: number;
  calls: number;
  usage: Usage;
  costUsd: number;
  byRole: Record<LlmRole, RoleEstimate>;
  /** Round by round (round 0: the seeds' own answers). */
  byRound: Array<{ round: number; calls: number; usage: Usage }>;
  /** Every answer as long as its role's maxTokens allows. */
  upperBound: { usage: Usage; costUsd: number };
  wall: WallTime;
  /** One line per assumption made, for people. */
  assumptions: string[];
}

/** A tally of calls and tokens per role. */
type Tally = Record<LlmRole, { calls: number; usage: Usage }>;

function emptyTally(): Tally {
  return Object.fromEntries(LLM_ROLES.map((role) => [role, { calls: 0, usage: ZERO_USAGE }])) as Tally;
}

function usageOf(promptTokens: number, completionTokens: number): Usage {
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

/** How long each answer is, and how much a rewrite grows: the expected case, or the upper bound. */
interface AnswerModel {
  rewriteChars(parentChars: number, operation: Operation): number;
  responseTokens: number;
  verdictTokens: number;
}

/** The characters of a prompt as sent: every message's content. */
export function promptChars(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => n + m.content.length, 0);
}

/** A text of `chars` characters that begins as `text` does: a rewrite of a known length, for building its prompts. */
function standIn(text: string, chars: number): string {
  return chars <= text.length ? text.slice(0, chars) : text.padEnd(chars, ' more');
}

/** The characters a rewrite adds to its parent, by what its operation asks for. */
export function expectedGrowthChars(operation: Operation): number {
  if (operation.kind === 'in-breadth' || operation.kind === 'downward') return 0;
  return DATA_OPERATIONS.has(operation.id)
    ? ESTIMATE_ASSUMPTIONS.dataGrowthChars
    : ESTIMATE_ASSUMPTIONS.rewriteGrowthChars;
}

/**
 * The judge's answer: the JSON object of its three fields where the endpoint is asked for one (the rewrite is a task,
 * it keeps its parent's, the verdict), else the same as labelled lines.
 */
function verdictTokens(judge: LlmEndpoint, charsPerToken: number): number {
  const fields = EQUALITY_VERDICT_SCHEMA.schema.properties;
  const answer = {
    [TASK_FIELDS.kind]: fields[TASK_FIELDS.kind].enum[0],
    [TASK_FIELDS.keeps]: fields[TASK_FIELDS.keeps].enum[0],
    verdict: fields.verdict.enum[1],
  };
  const text =
    judge.structuredOutput === false
      ? Object.entries(answer)
          .map(([name, value]) => `${name}: ${value}`)
          .join('\n')
      : JSON.stringify(answer);
  return Math.ceil(text.length / charsPerToken);
}

/**
 * The calls of one seed's rounds as the run makes them: mutate, then respond and judge at once, each round evolving
 * the last rewrite (every rewrite is assumed to pass, so each round is answered and the instruction grows).
 */
function tallySeed(
  seed: { id: string; text: string; output?: string },
  request: EstimateRequest,
  answers: AnswerModel,
  charsPerToken: number,
  onCall: (round: number, role: LlmRole, usage: Usage) => void,
): void {
  const { settings } = request;
  const { llm } = settings;
  const tokens = (chars: number) => Math.max(1, Math.ceil(chars / charsPerToken));
  const cap = (role: LlmRole, n: number) => Math.min(llm[role].maxTokens, n);
  const plan = planOperations(settings.operations, settings.seed, seed.id, settings.rounds);
  const answerTokens = cap('responder', answers.responseTokens);
  if (settings.answerSeeds && !seed.output?.trim()) {
    onCall(0, 'responder', usageOf(tokens(promptChars(buildResponseMessages(seed.text))), answerTokens));
  }
  let parent = seed.text;
  plan.forEach((operation, i) => {
    const round = i + 1;
    const mutate = buildMutationMessages(operation, parent);
    // A rewrite longer than the evolver may write is cut at its maxTokens.
    const rewriteChars = Math.min(
      llm.evolver.maxTokens * charsPerToken,
      Math.max(1, answers.rewriteChars(parent.length, operation)),
    );
    const rewrite = standIn(parent, rewriteChars);
    onCall(round, 'evolver', usageOf(tokens(promptChars(mutate)), tokens(rewriteChars)));
    onCall(round, 'responder', usageOf(tokens(promptChars(buildResponseMessages(rewrite))), answerTokens));
    const judge = buildEqualityMessages(parent, rewrite);
    onCall(round, 'judge', usageOf(tokens(promptChars(judge)), cap('judge', answers.verdictTokens)));
    parent = rewrite;
  });
}

/** When the batcher sees a batch the provider answers after `providerMs`: at its first status check after that. */
export function batchSeenAtMs(providerMs: number, settings: ResolvedBatchSettings): number {
  let at = 0;
  for (let polls = 0; at < providerMs || polls === 0; polls++) at += pollDelayMs(polls, settings);
  return at;
}

/** The time of one call: the latency model, or a batch's turnaround for a role whose calls go in batches. */
function callSeconds(request: EstimateRequest, role: LlmRole, completionTokens: number, upper: boolean): number {
  const endpoint = request.settings.llm[role];
  const A = ESTIMATE_ASSUMPTIONS;
  if (endpoint.batch) {
    const batch = resolveBatchSettings(request.settings.batch);
    const providerMs = upper ? A.batchWindowMs : endpoint.baseURL === SIM_BASE_URL ? A.simulatedBatchMs : 0;
    return (batch.maxWaitMs + batchSeenAtMs(providerMs, batch)) / 1000;
  }
  if (request.latencyMs !== undefined) return request.latencyMs / 1000;
  // The built-in simulated LLM answers at once.
  if (endpoint.baseURL === SIM_BASE_URL) return 0;
  return A.firstTokenMs / 1000 + completionTokens / A.tokensPerSecond;
}

/** One seed's time from its first call to its last: rounds one after another, respond and judge at once. */
function seedSeconds(
  calls: Array<{ round: number; role: LlmRole; usage: Usage }>,
  request: EstimateRequest,
  upper: boolean,
) {
  const byRound = new Map<number, Partial<Record<LlmRole, number>>>();
  for (const { round, role, usage } of calls) {
    const times = byRound.get(round) ?? {};
    times[role] = callSeconds(request, role, usage.completionTokens, upper);
    byRound.set(round, times);
  }
  let total = 0;
  for (const [round, t] of byRound) {
    if (round === 0) continue;
    const roundSeconds = (t.evolver ?? 0) + Math.max(t.responder ?? 0, t.judge ?? 0);
    // The seed's own answer is asked beside round 1.
    total += round === 1 ? Math.max(roundSeconds, byRound.get(0)?.responder ?? 0) : roundSeconds;
  }
  return total;
}

/** An endpoint as the rate limiter keys it: roles on one endpoint share its limits. */
function endpointKey(e: LlmEndpoint): string {
  return `${e.baseURL}|${e.model}|${e.apiKeyEnv}`;
}

/** The least time the endpoints' rate limits allow for these calls, and which limit that is. */
function rateBound(request: EstimateRequest, tally: Tally): { seconds: number; boundBy: string } {
  const endpoints = new Map<string, { endpoint: LlmEndpoint; roles: LlmRole[]; calls: number; tokens: number }>();
  for (const role of LLM_ROLES) {
    const endpoint = request.settings.llm[role];
    // Batch rows are not held by the online rate limits.
    if (endpoint.batch) continue;
    const key = endpointKey(endpoint);
    const e = endpoints.get(key) ?? { endpoint, roles: [], calls: 0, tokens: 0 };
    e.roles.push(role);
    e.calls += tally[role].calls;
    e.tokens += tally[role].usage.totalTokens;
    endpoints.set(key, e);
  }
  let best = { seconds: 0, boundBy: '' };
  for (const { endpoint, roles, calls, tokens } of endpoints.values()) {
    const who = `${roles.join(', ')} (${endpoint.model})`;
    if (endpoint.rpm) {
      const seconds = (calls * 60) / (endpoint.rpm * TARGET_FRACTION);
      if (seconds > best.seconds) best = { seconds, boundBy: `--rpm ${endpoint.rpm} on ${who}: ${calls} calls` };
    }
    if (endpoint.tpm) {
      const seconds = (tokens * 60) / (endpoint.tpm * TARGET_FRACTION);
      if (seconds > best.seconds) best = { seconds, boundBy: `--tpm ${endpoint.tpm} on ${who}: ${tokens} tokens` };
    }
  }
  return best;
}

function costOfTally(request: EstimateRequest, tally: Tally): Record<LlmRole, RoleEstimate> {
  const { llm, prices } = request.settings;
  return Object.fromEntries(
    LLM_ROLES.map((role) => {
      const endpoint = llm[role];
      const mode: CallMode = endpoint.batch ? 'batch' : 'online';
      const price = prices[endpoint.model];
      const { calls, usage } = tally[role];
      return [
        role,
        { model: endpoint.model, mode, calls, usage, costUsd: costOf(usage, price, mode), unpriced: !price },
      ];
    }),
  ) as Record<LlmRole, RoleEstimate>;
}

function sumRoles(byRole: Record<LlmRole, RoleEstimate>): { calls: number; usage: Usage; costUsd: number } {
  return LLM_ROLES.reduce(
    (sum, role) => ({
      calls: sum.calls + byRole[role].calls,
      usage: addUsage(sum.usage, byRole[role].usage),
      costUsd: sum.costUsd + byRole[role].costUsd,
    }),
    { calls: 0, usage: ZERO_USAGE, costUsd: 0 },
  );
}

/** Calls, tokens and time of every seed under one answer model. */
function tallyRun(request: EstimateRequest, answers: AnswerModel, charsPerToken: number, upper: boolean) {
  const tally = emptyTally();
  const rounds = new Map<number, { calls: number; usage: Usage }>();
  let sumSeconds = 0;
  let longestSeconds = 0;
  for (const seed of request.seeds) {
    const calls: Array<{ round: number; role: LlmRole; usage: Usage }> = [];
    tallySeed(seed, request, answers, charsPerToken, (round, role, usage) => {
      calls.push({ round, role, usage });
      tally[role] = { calls: tally[role].calls + 1, usage: addUsage(tally[role].usage, usage) };
      const r = rounds.get(round) ?? { calls: 0, usage: ZERO_USAGE };
      rounds.set(round, { calls: r.calls + 1, usage: addUsage(r.usage, usage) });
    });
    const seconds = seedSeconds(calls, request, upper);
    sumSeconds += seconds;
    longestSeconds = Math.max(longestSeconds, seconds);
  }
  const byRound = [...rounds.entries()].sort(([a], [b]) => a - b).map(([round, r]) => ({ round, ...r }));
  return { tally, byRound, sumSeconds, longestSeconds };
}

/** The wall time: the instructions at once (a sliding window of `concurrency`), or the endpoints' rate limits. */
function wallTime(
  request: EstimateRequest,
  expected: ReturnType<typeof tallyRun>,
  upper: ReturnType<typeof tallyRun> | undefined,
): WallTime {
  const atOnce = Math.max(1, Math.min(request.settings.concurrency, request.seeds.length));
  const window = (run: ReturnType<typeof tallyRun>) => Math.max(run.sumSeconds / atOnce, run.longestSeconds);
  const byWindow = window(expected);
  const rates = rateBound(request, expected.tally);
  const seconds = Math.max(byWindow, rates.seconds);
  const boundBy =
    rates.seconds > byWindow
      ? rates.boundBy
      : `--concurrency ${request.settings.concurrency}: ${atOnce} instruction(s) at once`;
  return { seconds, ...(upper ? { upperSeconds: Math.max(window(upper), rates.seconds) } : {}), boundBy };
}

/** The estimate of a dataset run of these seeds with these settings, before any call is made. */
export function estimateRun(request: EstimateRequest): RunEstimate {
  const A = ESTIMATE_ASSUMPTIONS;
  const { settings, learned } = request;
  const { llm } = settings;
  const charsPerToken = learned?.charsPerToken ?? A.charsPerToken;
  const expected: AnswerModel = {
    rewriteChars: (parentChars, operation) =>
      parentChars + (learned?.rewriteGrowthChars ?? expectedGrowthChars(operation)),
    responseTokens: learned?.responseTokens ?? A.responseTokens,
    verdictTokens: learned?.verdictTokens ?? verdictTokens(llm.judge, charsPerToken),
  };
  const longest: AnswerModel = {
    rewriteChars: () => llm.evolver.maxTokens * charsPerToken,
    responseTokens: llm.responder.maxTokens,
    verdictTokens: llm.judge.maxTokens,
  };
  const batched = LLM_ROLES.some((role) => llm[role].batch);
  const run = tallyRun(request, expected, charsPerToken, false);
  const upperRun = tallyRun(request, longest, charsPerToken, batched);
  const byRole = costOfTally(request, run.tally);
  const total = sumRoles(byRole);
  const upper = sumRoles(costOfTally(request, upperRun.tally));
  return {
    seeds: request.seeds.length,
    rounds: settings.rounds,
    ...total,
    byRole,
    byRound: run.byRound,
    upperBound: { usage: upper.usage, costUsd: upper.costUsd },
    wall: wallTime(request, run, batched ? upperRun : undefined),
    assumptions: assumptionsOf(request, byRole, charsPerToken, expected),
  };
}

function assumptionsOf(
  request: EstimateRequest,
  byRole: Record<LlmRole, RoleEstimate>,
  charsPerToken: number,
  expected: AnswerModel,
): string[] {
  const A = ESTIMATE_ASSUMPTIONS;
  const { settings, learned } = request;
  const { llm } = settings;
  const unanswered = request.seeds.filter((s) => !s.output?.trim()).length;
  const lines = [
    `prompts: built as the run builds them (each seed's own operation plan), ${charsPerToken === A.charsPerToken ? `${A.charsPerToken} characters a token` : `${charsPerToken.toFixed(2)} characters a token (sampled)`}`,
    learned?.rewriteGrowthChars !== undefined
      ? `a rewrite: its parent plus ${Math.round(learned.rewriteGrowthChars)} characters (sampled)`
      : `a rewrite: its parent plus ${A.rewriteGrowthChars} characters (the 10 to 20 words an in-depth prompt allows), ${A.dataGrowthChars} for complicating input and an erroneous code reference (a block of data or code), none for in-breadth and downward rewrites (as long as their parent)`,
    `a response: ${Math.min(expected.responseTokens, llm.responder.maxTokens)} tokens${learned?.responseTokens !== undefined ? ' (sampled)' : ` (the rate limiter's first guess; at most ${llm.responder.maxTokens}, the responder's maxTokens)`}; a verdict: ${Math.min(expected.verdictTokens, llm.judge.maxTokens)} tokens${learned?.verdictTokens !== undefined ? ' (sampled)' : ''}`,
    'every rewrite passes its gates and every round passes: each round is answered and judged, and each evolves the last rewrite (an upper bound on calls; a gated rewrite is not answered, a failed round keeps its shorter parent)',
    settings.answerSeeds
      ? `${unanswered} seed(s) without an answer in the file get one beside round 1 (--no-seed-answers skips them)`
      : 'no seed answers (--no-seed-answers)',
    'no unusable answers asked again and no retries after faults (rare; each is one more call)',
    "at most: every answer as long as its role's maxTokens allows",
    ...wallAssumptions(request),
  ];
  const unpriced = [...new Set(LLM_ROLES.filter((r) => byRole[r].unpriced).map((r) => byRole[r].model))];
  if (unpriced.length) lines.push(`no price for ${unpriced.join(', ')}: its cost counts as 0 (add --prices FILE)`);
  return lines;
}

function wallAssumptions(request: EstimateRequest): string[] {
  const A = ESTIMATE_ASSUMPTIONS;
  const { llm } = request.settings;
  const lines: string[] = [];
  const online = LLM_ROLES.filter((r) => !llm[r].batch);
  if (online.length) {
    const sim = online.every((r) => llm[r].baseURL === SIM_BASE_URL);
    lines.push(
      request.latencyMs !== undefined
        ? `time: ${request.latencyMs} ms a call (--latency-ms)`
        : sim
          ? 'time: the simulated LLM answers at once, so only the rate limits count'
          : `time: ${A.firstTokenMs} ms a call before its first token, then ${A.tokensPerSecond} answer tokens a second (--latency-ms sets a time per call)`,
    );
  }
  if (LLM_ROLES.some((r) => llm[r].batch)) {
    const batch = resolveBatchSettings(request.settings.batch);
    lines.push(
      `Batch API: each round waits for its batches (the rewrite, then the answer and the verdict); a batch is sent after ${batch.maxWaitMs / 1000}s and answered by its first status check (${batch.pollInitialMs / 1000}s)${llm.evolver.baseURL === SIM_BASE_URL ? ` (the simulated Batch API: ${A.simulatedBatchMs / 1000}s)` : ''}, at most in the provider's ${A.batchWindowMs / 3600_000} hours`,
    );
  }
  lines.push(
    `the instructions run ${request.settings.concurrency} at once, rounds one after another; Temporal's own time per round is not counted (bench/README.md)`,
  );
  if (online.some((r) => llm[r].rpm || llm[r].tpm)) {
    lines.push(`rate limits: ${Math.round(TARGET_FRACTION * 100)}% of --rpm / --tpm, as the limiter spends them`);
  }
  return lines;
}

/** What a run's meta keeps of its estimate (`evol status` shows it beside the spend). */
export function estimateSummaryOf(estimate: RunEstimate): RunEstimateSummary {
  return {
    calls: estimate.calls,
    promptTokens: estimate.usage.promptTokens,
    completionTokens: estimate.usage.completionTokens,
    totalTokens: estimate.usage.totalTokens,
    costUsd: estimate.costUsd,
    upperBound: { totalTokens: estimate.upperBound.usage.totalTokens, costUsd: estimate.upperBound.costUsd },
    wallSeconds: estimate.wall.seconds,
  };
}
