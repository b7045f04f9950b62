/**
 * The side effects of Auto Evol-Instruct, one LLM call per activity so that a crash never repeats a
 * finished call: evolve an instruction with a method (evol LLM), analyze a trajectory and optimize
 * the method (optimizer LLM), answer an evolved instruction and detect a failed evolution; plus the
 * run store reads and the method versions.
 */
import { Context } from '@temporalio/activity';
import {
  buildAnalysisMessages,
  buildEvolveMessages,
  buildOptimizationMessages,
  casesNamed,
  judgeEvolution,
  parseEvolAnswer,
  parseOptimizedMethod,
  type AutoVerdict,
  type Detector,
  type CandidateParse,
  type FailurePattern,
  type MethodVersion,
  type OptimizerSample,
  type TrajectoryCase,
} from '../core/auto-evol';
import { buildResponseMessages } from '../core/operations';
import type { ChatMessage } from '../core/chat';
import { reaskMessages, type ReaskRole } from '../core/reask';
import type { LlmEndpoint } from '../core/endpoints';
import type { Usage } from '../core/usage';
import type { RunStore } from '../store/types';
import type { CallRole, Completion, LlmGateway } from './llm';
import {
  attemptNumber,
  completeOrEmpty,
  unusableResult,
  type CallFacts,
  type Reasked,
  type Unusable,
} from './unusable';

/** Texts kept in activity results for people to read, not for the algorithm: clipped to keep history small. */
const SHOWN_CHARS = 600;

function clip(text: string, max = SHOWN_CHARS): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Well inside the workflow's heartbeat timeout. */
export const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Heartbeats while an LLM call is in flight, so that a worker that dies mid-call is noticed within
 * the heartbeat timeout instead of the whole request timeout, and the call is retried elsewhere.
 */
async function heartbeating<T>(work: () => Promise<T>): Promise<T> {
  let context: Context | undefined;
  try {
    context = Context.current();
  } catch {
    return work();
  }
  context.heartbeat();
  const timer = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

export interface EvolveWithMethodInput {
  evol: LlmEndpoint;
  method: string;
  instruction: string;
}

export type EvolveWithMethodResult =
  { ok: true; instruction: string; usage: Usage } | { ok: false; reason: string; answer: string; usage: Usage };

export interface AnalyzeTrajectoryInput extends Reasked {
  optimizer: LlmEndpoint;
  method: string;
  trajectory: TrajectoryCase[];
  sample: OptimizerSample;
}

export interface AnalyzeTrajectoryResult extends CallFacts {
  ok?: true;
  feedback: string;
  /** Batch ids the feedback names. */
  casesNamed: string[];
  usage: Usage;
}

export interface OptimizeMethodInput extends Reasked {
  optimizer: LlmEndpoint;
  method: string;
  feedback: string;
  sample: OptimizerSample;
  maxMethodChars: number;
}

export interface OptimizeMethodResult extends CallFacts {
  ok?: true;
  candidate: CandidateParse;
}

export interface AnswerAndDetectInput extends Reasked {
  responder: LlmEndpoint;
  instruction: string;
  /** F(r)'s patterns; the defaults when absent. */
  failurePatterns?: FailurePattern[];
  /** F(r) alone (`paper`) or with rules 4, 2 and 3 (`paper-and-rules`, the default). */
  detector?: Detector;
}

export interface AnswerAndDetectResult extends CallFacts {
  ok?: true;
  verdict: AutoVerdict;
  response: string;
  usage: Usage;
}

export function createAutoEvolActivities(llm: LlmGateway, store: RunStore) {
  /**
   * One call, heartbeating: an empty answer is a result, and a re-ask (of `reaskAs`) shows the model its last
   * unusable answer.
   */
  const ask = (
    role: CallRole,
    endpoint: LlmEndpoint,
    messages: ChatMessage[],
    reasked: Reasked,
    reaskAs?: ReaskRole,
  ): Promise<Completion | Unusable> =>
    heartbeating(() =>
      completeOrEmpty(llm, role, endpoint, reaskAs ? reaskMessages(messages, reaskAs, reasked.reask) : messages),
    );

  return {
    /** Applies an evolving method to one instruction with the evol LLM; an unreadable answer is a failed evolution. */
    async evolveWithMethod(input: EvolveWithMethodInput): Promise<EvolveWithMethodResult> {
      const completion = await ask('evolver', input.evol, buildEvolveMessages(input.method, input.instruction), {});
      if ('ok' in completion) {
        return { ok: false, reason: completion.unusable.reason, answer: '', usage: completion.usage };
      }
      const parsed = parseEvolAnswer(completion.text);
      return parsed.ok
        ? { ok: true, instruction: parsed.text, usage: completion.usage }
        : { ok: false, reason: parsed.reason, answer: clip(completion.text), usage: completion.usage };
    },

    /** The optimizer reads the mini-batch's evolution trajectory and names the failed cases with reasons. */
    async analyzeTrajectory(input: AnalyzeTrajectoryInput): Promise<AnalyzeTrajectoryResult | Unusable> {
      const messages = buildAnalysisMessages(input.method, input.trajectory, input.sample);
      const completion = await ask('optimizer', input.optimizer, messages, input, 'optimizer-feedback');
      if ('ok' in completion) return completion;
      const feedback = completion.text.trim();
      const ids = input.trajectory.map((c) => c.id);
      return {
        feedback,
        casesNamed: casesNamed(feedback, ids),
        usage: completion.usage,
        attempt: attemptNumber(),
      };
    },

    /** The optimizer writes an improved method from the feedback; a malformed one is a failed candidate with its reason. */
    async optimizeMethod(input: OptimizeMethodInput): Promise<OptimizeMethodResult | Unusable> {
      const messages = buildOptimizationMessages(input.method, input.feedback, input.sample);
      const completion = await ask('optimizer', input.optimizer, messages, input, 'optimizer');
      if ('ok' in completion) return completion;
      const candidate = parseOptimizedMethod(completion.text, input.maxMethodChars);
      if (!candidate.ok) return unusableResult(candidate.reason, completion);
      return { candidate, usage: completion.usage, attempt: attemptNumber() };
    },

    /** The evolved instruction is answered, and F(r) with elimination rules 2-4 says whether the evolution failed. */
    async answerAndDetect(input: AnswerAndDetectInput): Promise<AnswerAndDetectResult | Unusable> {
      const { instruction } = input;
      const completion = await ask(
        'responder',
        input.responder,
        buildResponseMessages(instruction),
        input,
        'responder',
      );
      if ('ok' in completion) return completion;
      return {
        verdict: judgeEvolution(instruction, completion.text, input.failurePatterns, input.detector),
        response: clip(completion.text),
        usage: completion.usage,
        attempt: attemptNumber(),
      };
    },

    /** The instructions at these positions of the run's input (input first, then a dev file's). */
    async readAutoInput({ runId, positions }: { runId: string; positions: number[] }) {
      const instructions = await Promise.all(
        positions.map(async (position) => {
          const [id] = await store.seedIds(runId, position, 1);
          if (id === undefined) throw new Error(`run "${runId}" has no instruction at position ${position}`);
          return { id, text: (await store.seed(runId, id)).text };
        }),
      );
      return { instructions };
    },

    /** Keeps the method in force after a step; a retried write changes nothing. */
    async saveMethodVersion(version: MethodVersion): Promise<'written' | 'exists'> {
      return store.saveMethodVersion(version.runId, { ...version, savedAt: new Date().toISOString() });
    },
  };
}

export type AutoEvolActivities = ReturnType<typeof createAutoEvolActivities>;
