/**
 * The side-effecting steps of one evolution round: mutate (evolver LLM), respond (responder LLM)
 * and eliminate (the three deterministic rules, then the judge LLM for rule 1).
 */
import { ApplicationFailure } from '@temporalio/common';
import {
  buildEqualityMessages,
  checkDeterministicRules,
  equalityVerdict,
  parseEqualityAnswer,
  type Verdict,
} from '../core/elimination';
import { buildMutationMessages, buildResponseMessages, type Operation } from '../core/operations';
import { parseEvolAnswer } from '../core/auto-evol';
import { parseRewrite } from '../core/rewrite';
import { ZERO_USAGE, type LlmEndpoint, type Usage } from '../core/schemas';
import { LlmFailure } from '../core/llm-failures';
import type { LlmGateway } from './llm';

export interface MutateInput {
  evolver: LlmEndpoint;
  operation: Operation;
  instruction: string;
}

export interface MutateResult {
  instruction: string;
  usage: Usage;
}

export interface RespondInput {
  responder: LlmEndpoint;
  instruction: string;
}

export interface RespondResult {
  response: string;
  usage: Usage;
}

export interface EliminateInput {
  judge: LlmEndpoint;
  parent: string;
  instruction: string;
  response: string;
}

export interface EliminateResult {
  verdict: Verdict;
  /** Tokens the judge used; zero when a deterministic rule decided. */
  usage: Usage;
}

export function createEvolutionActivities(llm: LlmGateway) {
  return {
    /** Applies one evolving operation to an instruction with the evolver LLM. */
    async mutate({ evolver, operation, instruction }: MutateInput): Promise<MutateResult> {
      const completion = await llm.complete('evolver', evolver, buildMutationMessages(operation, instruction));
      // A learned method (a custom operation) may answer in labelled parts: keep only the final rewrite.
      const parsed = operation.kind === 'custom' ? parseEvolAnswer(completion.text) : parseRewrite(completion.text);
      if (!parsed.ok) {
        throw ApplicationFailure.create({
          type: LlmFailure.UnusableCompletion,
          message: `the evolver's answer holds no usable rewrite: ${parsed.reason}`,
          nonRetryable: false,
        });
      }
      return { instruction: parsed.text, usage: completion.usage };
    },

    /** Answers an instruction with the responder LLM. */
    async respond({ responder, instruction }: RespondInput): Promise<RespondResult> {
      const completion = await llm.complete('responder', responder, buildResponseMessages(instruction));
      return { response: completion.text, usage: completion.usage };
    },

    /** All four elimination rules: the cheap deterministic ones first, then the judge. */
    async eliminate({ judge, parent, instruction, response }: EliminateInput): Promise<EliminateResult> {
      const ruled = checkDeterministicRules(instruction, response);
      if (!ruled.passed) return { verdict: ruled, usage: ZERO_USAGE };
      const completion = await llm.complete('judge', judge, buildEqualityMessages(parent, instruction));
      const answer = parseEqualityAnswer(completion.text);
      if (!answer) {
        throw ApplicationFailure.create({
          type: LlmFailure.UnusableCompletion,
          message: `the judge answered neither EQUAL nor NOT EQUAL: "${completion.text.slice(0, 80)}"`,
          nonRetryable: false,
        });
      }
      return { verdict: equalityVerdict(answer), usage: completion.usage };
    },
  };
}
