/**
 * Batch API mode (`evol run --batch`): a round's calls become rows of the provider's batches instead of one request
 * each. Two activities serve the instruction workflow: `prepareBatchCall` stores the row and queues it with the run's
 * batcher workflow, `finishBatchCall` reads its answer and judges it exactly as the online activity would (the
 * second half of ROUND_CALLS). Four serve the batcher: submit (idempotent: a batch already made under its key is
 * found by its metadata, not made again), poll, cancel, and collect (answers to the run store, waiting instructions
 * told by signal). Requests and answers stay in the run store: what these activities return are ids and counts.
 * API keys are read from the worker's environment by the LlmGateway's client.
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import OpenAI, { toFile } from 'openai';
import { BATCH_KEY_METADATA, completionOf, parseBatchRow, type BatchCounts, type BatcherInput } from '../core/batch';
import { batchResultSignal, enqueueBatchCallSignal } from '../core/batch-messages';
import { runWorkflowIds } from '../core/ids';
import { LlmFailure } from '../core/llm-failures';
import { pauseSignal } from '../core/messages';
import { costOf } from '../core/pricing';
import { datasetSettingsOf } from '../core/run';
import type { LlmEndpoint, LlmRole } from '../core/endpoints';
import { EvolKind, EvolRunId } from '../core/search-attributes';
import type { RunStore } from '../store/types';
import {
  ROUND_CALLS,
  type JudgeEqualityInput,
  type JudgeEqualityResult,
  type MutateInput,
  type MutateResult,
  type RespondInput,
  type RespondResult,
} from './evolution';
import { chatRequestOf, withSchema, type LlmGateway } from './llm';
import { classifyLlmError } from './llm-errors';
import { emptyAnswer } from './unusable';
import { plural } from '../core/plural';

/** One round call, by its activity's name and input. */
export type BatchCall =
  | { kind: 'mutate'; input: MutateInput }
  | { kind: 'respond'; input: RespondInput }
  | { kind: 'judgeEquality'; input: JudgeEqualityInput };

/** What finishBatchCall returns: the online activity's result, marked as a batch row (priced at batch rates). */
export type BatchCallResult = (MutateResult | RespondResult | JudgeEqualityResult) & { mode: 'batch' };

export interface PrepareBatchCallInput {
  runId: string;
  instructionId: string;
  /** The instruction workflow that waits for the answer (it is signalled when the answer is in). */
  workflowId: string;
  /** Which call of the instruction this is, e.g. `r2.respond.1` (round 2, the responder, first ask). */
  callKey: string;
  call: BatchCall;
}

/** Input file line limits: the endpoint a batch's rows go to. */
const BATCH_ENDPOINT = '/v1/chat/completions';
/** How long an upload, a download or a listing of batches may take. */
const FILE_TIMEOUT_MS = 30 * 60_000;
/** Instructions told of their answers at once. */
const SIGNALS_AT_ONCE = 32;

/** How often the batcher's activities tell Temporal they are alive (their heartbeat timeout is a few times this). */
export const BATCH_HEARTBEAT_MS = 2000;

/**
 * Runs `fn` while heartbeating: a worker that dies mid-upload is noticed by its heartbeat timeout, in seconds, not by
 * the start-to-close timeout a 200 MB upload needs.
 */
async function alive<T>(fn: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(), BATCH_HEARTBEAT_MS);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/** The batcher workflow's type name (workflows/batcher.ts). */
export const BATCHER_WORKFLOW = 'batchEvolution';

/** The request body a call makes: what the online call sends first (its JSON schema as OpenAI takes it). */
function requestBodyOf(call: BatchCall) {
  const request =
    call.kind === 'mutate'
      ? ROUND_CALLS.mutate.request(call.input)
      : call.kind === 'respond'
        ? ROUND_CALLS.respond.request(call.input)
        : ROUND_CALLS.judgeEquality.request(call.input);
  const format = request.options?.jsonSchema;
  const style = format && request.endpoint.structuredOutput !== false ? 'json_schema' : 'text';
  return { request, body: withSchema(chatRequestOf(request.endpoint, request.messages), style, format) };
}

/** Calls of one endpoint share batches (one model per batch, one key). */
export function groupOf(endpoint: LlmEndpoint): string {
  return `${endpoint.baseURL} ${endpoint.model} ${endpoint.apiKeyEnv}`;
}

export function createBatchActivities(llm: LlmGateway, store: RunStore) {
  const settingsOf = async (runId: string) => datasetSettingsOf(await store.readMeta(runId));
  const endpointOf = async (runId: string, role: LlmRole) => (await settingsOf(runId)).llm[role];

  /** The role's client, and a way to turn the SDK's errors into classified failures (keys redacted). */
  async function providerFor(runId: string, role: LlmRole) {
    const endpoint = await endpointOf(runId, role);
    const { client: openai, apiKey } = await llm.openAiClient(endpoint);
    const fail = (err: unknown) => classifyLlmError(err, { role: `${role} (Batch API)`, endpoint, apiKey });
    return { openai, fail };
  }

  /**
   * A batch is priced before it is sent: its rows' prompts (about four characters a token) and the answers the run's
   * calls gave on average so far (half the row's max_tokens before any), at batch prices. One that would take the
   * run's spend to its budget is not sent: the run pauses, saying so, and the batch goes when a resume raises it.
   */
  async function refuseOverBudget(runId: string, lines: string[]): Promise<void> {
    const settings = await settingsOf(runId);
    const runWorkflowId = runWorkflowIds(runId).dataset;
    const view = await llm.gate.spendOf(runWorkflowId);
    const { maxTokens, maxCost } = view?.budget ?? settings.budget;
    if (!view || (maxTokens === undefined && maxCost === undefined)) return;
    const { spent } = view;
    const averageAnswer = spent.calls ? spent.usage.completionTokens / spent.calls : undefined;
    let tokens = 0;
    let costUsd = 0;
    for (const line of lines) {
      const body = (
        JSON.parse(line) as { body: { model: string; max_tokens?: number; messages: { content: string }[] } }
      ).body;
      const promptTokens = Math.ceil(body.messages.reduce((n, m) => n + String(m.content).length, 0) / 4);
      const completionTokens = Math.round(averageAnswer ?? (body.max_tokens ?? 0) / 2);
      const usage = { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
      tokens += usage.totalTokens;
      costUsd += costOf(usage, settings.prices[body.model], 'batch');
    }
    const tokensOver = maxTokens !== undefined && spent.usage.totalTokens + tokens > maxTokens;
    const costOver = maxCost !== undefined && spent.costUsd + costUsd > maxCost;
    if (!tokensOver && !costOver) return;
    const reason = tokensOver
      ? `token budget: the next batch (${plural(lines.length, 'row')}, about ${plural(tokens, 'token')}) would take the ${spent.usage.totalTokens} tokens spent past ${maxTokens}. Raise it with: evol resume ${runId} --max-tokens N`
      : `cost budget: the next batch (${plural(lines.length, 'row')}, about $${costUsd.toFixed(4)} at batch prices) would take the $${spent.costUsd.toFixed(4)} spent past $${maxCost}. Raise it with: evol resume ${runId} --max-cost USD`;
    await Context.current()
      .client.workflow.getHandle(runWorkflowId)
      .signal(pauseSignal, { reason })
      .catch(() => undefined);
    throw ApplicationFailure.create({
      type: LlmFailure.BudgetReached,
      message: `not sent: ${reason}`,
      nonRetryable: true,
    });
  }

  /** Tells the instruction workflows waiting for these rows that their answers are in. */
  async function tellWaiting(runId: string, customIds: string[]): Promise<void> {
    const { client } = Context.current();
    for (let i = 0; i < customIds.length; i += SIGNALS_AT_ONCE) {
      await Promise.all(
        customIds.slice(i, i + SIGNALS_AT_ONCE).map(async (customId) => {
          const request = await store.batchRequest(runId, customId);
          if (!request) return;
          try {
            await client.workflow
              .getHandle(request.workflowId)
              .signal(batchResultSignal, { customId, outcome: 'done' });
          } catch (err) {
            // An instruction that ended (cancelled, say) needs no answer; a later one reads it from the store.
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          }
        }),
      );
    }
  }

  return {
    /**
     * Stores a call's batch row and queues it with the run's batcher workflow (started if it is not running). Its
     * custom_id is made from the instruction, the call and the request itself, so a retried activity queues the same
     * row, and a call whose answer is already in the store (an earlier attempt of the run) is `ready` at once.
     */
    async prepareBatchCall(input: PrepareBatchCallInput): Promise<{ customId: string; ready: boolean }> {
      const { runId, instructionId, workflowId, callKey, call } = input;
      const { request, body } = requestBodyOf(call);
      const hash = createHash('sha256')
        .update(JSON.stringify([runId, instructionId, body]))
        .digest('hex');
      const customId = `${callKey}-${hash.slice(0, 24)}`;
      if (await store.batchResult(runId, customId)) return { customId, ready: true };
      const line = JSON.stringify({ custom_id: customId, method: 'POST', url: BATCH_ENDPOINT, body });
      const role = request.role as LlmRole;
      await store.saveBatchRequest(runId, { customId, workflowId, role, line });
      const settings = await settingsOf(runId);
      const { client, info } = Context.current();
      const batcherInput: BatcherInput = { runId, settings: settings.batch ?? {}, prices: settings.prices };
      await client.workflow.signalWithStart(BATCHER_WORKFLOW, {
        workflowId: runWorkflowIds(runId).batch,
        taskQueue: info.taskQueue,
        args: [batcherInput],
        signal: enqueueBatchCallSignal,
        signalArgs: [
          {
            customId,
            workflowId,
            group: groupOf(request.endpoint),
            role,
            model: request.endpoint.model,
            bytes: Buffer.byteLength(line) + 1,
            maxTokens: Math.ceil(line.length / 4) + request.endpoint.maxTokens,
          },
        ],
        staticSummary: `Batch API calls of run ${runId}`,
        typedSearchAttributes: [
          { key: EvolRunId, value: runId },
          { key: EvolKind, value: 'batch' },
        ],
      });
      return { customId, ready: false };
    },

    /** Reads a row's answer from the run store and judges it as the online activity does. */
    async finishBatchCall({
      runId,
      customId,
      call,
    }: {
      runId: string;
      customId: string;
      call: BatchCall;
    }): Promise<BatchCallResult> {
      const stored = await store.batchResult(runId, customId);
      if (!stored) {
        throw ApplicationFailure.create({
          type: 'BatchResultMissing',
          message: `no answer for batch row ${customId} in the run store of ${runId}`,
          nonRetryable: false,
        });
      }
      const read = completionOf(stored.body);
      const endpoint = requestBodyOf(call).request.endpoint;
      const completion = read.text.trim()
        ? { text: read.text, usage: read.usage, model: read.model ?? endpoint.model }
        : emptyAnswer(read.usage);
      // Counted against the run's budget now, at batch prices, as an online call is when it ends.
      llm.gate.record(call.input.spend, completion.usage, 'batch');
      const result =
        call.kind === 'mutate'
          ? ROUND_CALLS.mutate.result(call.input, completion)
          : call.kind === 'respond'
            ? ROUND_CALLS.respond.result(call.input, completion)
            : ROUND_CALLS.judgeEquality.result(call.input, completion);
      return { ...result, mode: 'batch' };
    },

    /**
     * Sends one batch: its rows' lines (from the run store) as a JSONL file, then the batch, with `key` in its
     * metadata. A batch with that key made since `notBeforeMs` is looked up first and returned instead: a crash
     * after the batch was made but before this activity returned never makes a second one.
     */
    async submitBatch({
      runId,
      role,
      key,
      customIds,
      notBeforeMs,
    }: {
      runId: string;
      role: LlmRole;
      key: string;
      customIds: string[];
      notBeforeMs: number;
    }): Promise<{ batchId: string; status: string; found: boolean }> {
      const { openai, fail } = await providerFor(runId, role);
      return alive(async () => {
        try {
          const existing = await findBatchByKey(openai, key, notBeforeMs);
          if (existing) return { batchId: existing.id, status: existing.status, found: true };
          const lines: string[] = [];
          for (const customId of customIds) {
            const request = await store.batchRequest(runId, customId);
            if (!request) throw new Error(`batch row ${customId} is not in the run store of ${runId}`);
            lines.push(request.line);
          }
          await refuseOverBudget(runId, lines);
          const file = await openai.files.create(
            { file: await toFile(Buffer.from(lines.join('\n') + '\n'), `evol-${key}.jsonl`), purpose: 'batch' },
            { timeout: FILE_TIMEOUT_MS },
          );
          const batch = await openai.batches.create({
            input_file_id: file.id,
            endpoint: BATCH_ENDPOINT,
            completion_window: '24h',
            metadata: { [BATCH_KEY_METADATA]: key, evol_run: runId },
          });
          return { batchId: batch.id, status: batch.status, found: false };
        } catch (err) {
          throw fail(err);
        }
      });
    },

    /** The batch's status and counts. */
    async pollBatch({ runId, role, batchId }: { runId: string; role: LlmRole; batchId: string }) {
      const { openai, fail } = await providerFor(runId, role);
      try {
        const batch = await openai.batches.retrieve(batchId);
        return { status: batch.status, counts: countsOf(batch) };
      } catch (err) {
        throw fail(err);
      }
    },

    /** Asks the provider to cancel the batch (rows done before stay in its output); its status after. */
    async cancelBatch({ runId, role, batchId }: { runId: string; role: LlmRole; batchId: string }) {
      const { openai, fail } = await providerFor(runId, role);
      try {
        const batch = await openai.batches.retrieve(batchId);
        if (['completed', 'expired', 'cancelled', 'failed', 'cancelling'].includes(batch.status)) {
          return { status: batch.status };
        }
        return { status: (await openai.batches.cancel(batchId)).status };
      } catch (err) {
        throw fail(err);
      }
    },

    /**
     * Reads a finished batch's output and error files: each answered row's answer goes to the run store and its
     * instruction is told; rows that failed (by their own error) and rows never done (the batch expired or was
     * cancelled, or the row is missing) are returned by id, for the batcher to send again.
     */
    async collectBatch({
      runId,
      role,
      batchId,
      customIds,
    }: {
      runId: string;
      role: LlmRole;
      batchId: string;
      customIds: string[];
    }): Promise<{ done: number; failed: string[]; unfinished: string[]; reasons: string[] }> {
      const { openai, fail } = await providerFor(runId, role);
      return alive(async () => {
        const wanted = new Set(customIds);
        const done: string[] = [];
        const failed = new Set<string>();
        const reasons = new Set<string>();
        try {
          const batch = await openai.batches.retrieve(batchId);
          for (const fileId of [batch.output_file_id, batch.error_file_id]) {
            if (!fileId) continue;
            const text = await (await openai.files.content(fileId, { timeout: FILE_TIMEOUT_MS })).text();
            for (const line of text.split('\n')) {
              const row = line.trim() ? parseBatchRow(line) : undefined;
              if (!row || !wanted.has(row.customId)) continue;
              if (row.ok) {
                await store.saveBatchResult(runId, { customId: row.customId, batchId, body: row.body });
                done.push(row.customId);
              } else if (row.retryable) {
                failed.add(row.customId);
                if (reasons.size < 3) reasons.add(row.reason);
              }
            }
          }
          if (batch.status === 'failed') {
            customIds.filter((id) => !done.includes(id)).forEach((id) => failed.add(id));
            for (const e of batch.errors?.data ?? []) if (reasons.size < 3) reasons.add(e.message ?? String(e.code));
          }
        } catch (err) {
          throw fail(err);
        }
        await tellWaiting(runId, done);
        const answered = new Set(done);
        return {
          done: done.length,
          failed: [...failed].filter((id) => !answered.has(id)),
          unfinished: customIds.filter((id) => !answered.has(id) && !failed.has(id)),
          reasons: [...reasons],
        };
      });
    },
  };
}

/** A batch made under `key` (its metadata) since `notBeforeMs`, looked up newest first. */
async function findBatchByKey(openai: OpenAI, key: string, notBeforeMs: number) {
  // A margin for clocks: the provider's created_at and the workflow's time are not the same clock.
  const notBefore = Math.floor(notBeforeMs / 1000) - 3600;
  for await (const batch of openai.batches.list({ limit: 100 }, { timeout: FILE_TIMEOUT_MS })) {
    if (batch.metadata?.[BATCH_KEY_METADATA] === key) return batch;
    if (batch.created_at < notBefore) return undefined;
  }
  return undefined;
}

function countsOf(batch: OpenAI.Batches.Batch): BatchCounts | undefined {
  const c = batch.request_counts;
  return c ? { total: c.total, completed: c.completed, failed: c.failed } : undefined;
}
