/**
 * The side-effecting steps of one evolution round, one LLM call each: mutate (evolver LLM, then the gates on its
 * rewrite), respond (responder LLM, then rules 2 and 3 on its answer) and judgeEquality (judge LLM: rule 1, and our
 * two rules on whether the rewrite is still a task, and still its parent's).
 * An unusable answer is returned as such, for the workflow to ask again at once or fail the round; only transport
 * faults are thrown for Temporal's backoff.
 */
import {
  buildEqualityMessages,
  checkPunctuationStopwords,
  checkSorryShort,
  checkTemplateWords,
  EQUALITY_VERDICT_SCHEMA,
  judgeVerdict,
  parseJudgeAnswer,
  type JudgeVerdict,
  type RewriteKind,
  type Verdict,
} from '../core/elimination';
import { checkRewriteGates, type GateSwitches } from '../core/gates';
import { buildMutationMessages, buildResponseMessages, type Operation, type OperationKind } from '../core/operations';
import { parseEvolAnswer } from '../core/auto-evol';
import { reaskMessages } from '../core/reask';
import { parseRewrite } from '../core/rewrite';
import type { LlmEndpoint } from '../core/endpoints';
import type { StepVerdict } from '../core/lineage';
import type { ChatMessage } from '../core/chat';
import type { SpendTag } from '../core/dataset';
import type { CallRole, CompleteOptions, Completion, LlmGateway } from './llm';
import {
  attemptNumber,
  completeOrEmpty,
  unusableResult,
  type CallFacts,
  type Reasked,
  type Unusable,
} from './unusable';

export type { Unusable } from './unusable';

/** A dataset run's call is counted against the run's budget (see activities/call-gate.ts). */
interface Spending {
  spend?: SpendTag;
}

export interface MutateInput extends Reasked, Spending {
  evolver: LlmEndpoint;
  operation: Operation;
  instruction: string;
  /** Gates switched off (every gate runs by default, and rule 4 with them). */
  gates?: GateSwitches;
  /** Rule 4 on the whole answer, a leading label included (the paper's way). */
  templateWordsOnRawAnswer?: boolean;
}

export type MutateResult =
  | (CallFacts & {
      ok: true;
      instruction: string;
      /** The gates' and rule 4's verdict on the rewrite. */
      gate: StepVerdict;
    })
  | Unusable;

export interface RespondInput extends Reasked, Spending {
  responder: LlmEndpoint;
  instruction: string;
}

export type RespondResult =
  | (CallFacts & {
      ok: true;
      response: string;
      /** Rules 2 and 3 on the response. */
      rules: Verdict;
    })
  | Unusable;

export interface JudgeEqualityInput extends Reasked, Spending {
  judge: LlmEndpoint;
  parent: string;
  instruction: string;
  /** The operation that wrote the rewrite (judge-lost-task does not hold in-breadth and downward ones). */
  operationKind?: OperationKind;
  /** Rules switched off (judge-not-a-task, judge-lost-task; every rule is on by default). */
  gates?: GateSwitches;
}

export type JudgeEqualityResult =
  | (CallFacts & {
      ok: true;
      /** Rule 1, then judge-not-a-task and judge-lost-task. */
      verdict: JudgeVerdict;
      /** What the judge said beside the verdict, `unknown` where it did not say (then no rule holds it). */
      said: { kind: RewriteKind | 'unknown'; keepsTask: boolean | 'unknown' };
    })
  | Unusable;

/** The paper's rule 4, then the gates: a rewrite that is no harder task of the same request fails here. */
function gateVerdict(rewrite: string, answer: string, input: MutateInput, messages: ChatMessage[]): StepVerdict {
  const templateWords = checkTemplateWords(input.templateWordsOnRawAnswer ? answer : rewrite);
  if (!templateWords.passed) return templateWords;
  return checkRewriteGates({
    rewrite,
    parent: input.instruction,
    prompt: messages.map((m) => m.content).join('\n'),
    kind: input.operation.kind === 'in-depth' ? 'in-depth' : 'other',
    switches: input.gates,
  });
}

/** What one call asks: its role's endpoint, its messages and options. The same online and as a Batch API row. */
export interface CallRequest {
  role: CallRole;
  endpoint: LlmEndpoint;
  messages: ChatMessage[];
  options?: CompleteOptions;
}

/**
 * The three calls of a round, each in two halves: `request`, what to ask the LLM, and `result`, what its answer
 * (or an empty one) means: the parsing, the gates and the elimination rules. Online, the activities below ask in
 * between; in Batch API mode (activities/batch.ts), the request is a row of a batch and the result is read from the
 * batch's output, so both modes judge answers by the same code.
 */
export const ROUND_CALLS = {
  mutate: {
    request(input: MutateInput): CallRequest {
      const messages = buildMutationMessages(input.operation, input.instruction);
      return { role: 'evolver', endpoint: input.evolver, messages: reaskMessages(messages, 'evolver', input.reask) };
    },
    /** The rewrite parsed, then rule 4 and the gates on it. */
    result(input: MutateInput, completion: Completion | Unusable): MutateResult {
      if ('ok' in completion) return completion;
      // A learned method (a custom operation) may answer in labelled parts: keep only the final rewrite.
      const parsed =
        input.operation.kind === 'custom' ? parseEvolAnswer(completion.text) : parseRewrite(completion.text);
      if (!parsed.ok) return unusableResult(`it holds no rewritten task (${parsed.reason})`, completion);
      const messages = buildMutationMessages(input.operation, input.instruction);
      return {
        ok: true,
        instruction: parsed.text,
        gate: gateVerdict(parsed.text, completion.text, input, messages),
        usage: completion.usage,
        attempt: attemptNumber(),
      };
    },
  },
  respond: {
    request(input: RespondInput): CallRequest {
      const messages = reaskMessages(buildResponseMessages(input.instruction), 'responder', input.reask);
      return { role: 'responder', endpoint: input.responder, messages };
    },
    /** Rules 2 and 3 on the answer. */
    result(_input: RespondInput, completion: Completion | Unusable): RespondResult {
      if ('ok' in completion) return completion;
      const sorry = checkSorryShort(completion.text);
      return {
        ok: true,
        response: completion.text,
        rules: sorry.passed ? checkPunctuationStopwords(completion.text) : sorry,
        usage: completion.usage,
        attempt: attemptNumber(),
      };
    },
  },
  judgeEquality: {
    request(input: JudgeEqualityInput): CallRequest {
      const messages = reaskMessages(buildEqualityMessages(input.parent, input.instruction), 'judge', input.reask);
      return { role: 'judge', endpoint: input.judge, messages, options: { jsonSchema: EQUALITY_VERDICT_SCHEMA } };
    },
    /**
     * Rule 1 on EQUAL or NOT EQUAL (without either the answer is unusable), then our rules on what the judge said of
     * the rewrite beside it; a judge that gave the verdict alone eliminates nothing more.
     */
    result(input: JudgeEqualityInput, completion: Completion | Unusable): JudgeEqualityResult {
      if ('ok' in completion) return completion;
      const answer = parseJudgeAnswer(completion.text);
      if (!answer) return unusableResult('it gives neither EQUAL nor NOT EQUAL', completion);
      return {
        ok: true,
        verdict: judgeVerdict(answer, { switches: input.gates, operationKind: input.operationKind }),
        said: { kind: answer.kind ?? 'unknown', keepsTask: answer.keepsTask ?? 'unknown' },
        usage: completion.usage,
        attempt: attemptNumber(),
      };
    },
  },
};

export type RoundCallKind = keyof typeof ROUND_CALLS;

export function createEvolutionActivities(llm: LlmGateway) {
  const ask = ({ role, endpoint, messages, options }: CallRequest, spend: SpendTag | undefined) =>
    completeOrEmpty(llm, role, endpoint, messages, { ...options, spend });
  return {
    /** Applies one evolving operation to an instruction with the evolver LLM, then checks the rewrite. */
    async mutate(input: MutateInput): Promise<MutateResult> {
      return ROUND_CALLS.mutate.result(input, await ask(ROUND_CALLS.mutate.request(input), input.spend));
    },

    /** Answers an instruction with the responder LLM; rules 2 and 3 judge the answer. */
    async respond(input: RespondInput): Promise<RespondResult> {
      return ROUND_CALLS.respond.result(input, await ask(ROUND_CALLS.respond.request(input), input.spend));
    },

    /** Rule 1: the judge says whether the rewrite asks for anything its parent does not, and whether it is still its task. */
    async judgeEquality(input: JudgeEqualityInput): Promise<JudgeEqualityResult> {
      return ROUND_CALLS.judgeEquality.result(input, await ask(ROUND_CALLS.judgeEquality.request(input), input.spend));
    },
  };
}
