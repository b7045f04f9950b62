/**
 * One instruction's Evol-Instruct, round by round (WizardLM §3): mutate, respond, eliminate.
 * A failed evolution keeps its parent, which the next round evolves again.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  defineQuery,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { UNUSABLE_OUTPUT_FAILURES } from '../core/llm-failures';
import { GENERAL_OPERATIONS } from '../core/operations';
import { planOperations } from '../core/plan';
import type { InstructionEvolutionInput, Lineage, LineageStep } from '../core/schemas';
import { addUsage, ZERO_USAGE } from '../core/usage';
import { EvolEliminations, EvolRoundsDone, EvolStatus } from '../core/search-attributes';
import { llmActivities } from './activity-options';

export const lineageQuery = defineQuery<Lineage>('lineage');

export async function instructionEvolution(input: InstructionEvolutionInput): Promise<Lineage> {
  const { mutate, respond, eliminate } = llmActivities(input.llm);
  const plan = planOperations(input.operations ?? GENERAL_OPERATIONS, input.seed, input.instructionId, input.rounds);
  const lineage: Lineage = {
    runId: input.runId,
    instructionId: input.instructionId,
    seed: input.instruction,
    status: 'running',
    rounds: input.rounds,
    steps: [],
    final: input.instruction,
    usage: ZERO_USAGE,
  };
  setHandler(lineageQuery, () => lineage);

  try {
    for (let round = 1; round <= input.rounds; round++) {
      const operation = plan[round - 1];
      const parent = lineage.final;
      let step: LineageStep;
      try {
        const evolved = await mutate({ evolver: input.llm.evolver, operation, instruction: parent });
        const answered = await respond({ responder: input.llm.responder, instruction: evolved.instruction });
        const judged = await eliminate({
          judge: input.llm.judge,
          parent,
          instruction: evolved.instruction,
          response: answered.response,
        });
        step = {
          round,
          operation: operation.id,
          parent,
          instruction: evolved.instruction,
          response: answered.response,
          verdict: judged.verdict,
          usage: addUsage(addUsage(evolved.usage, answered.usage), judged.usage),
        };
      } catch (err) {
        if (!isUnusableOutput(err)) throw err;
        step = unusableStep(round, operation.id, parent, err);
      }
      lineage.steps.push(step);
      lineage.usage = addUsage(lineage.usage, step.usage);
      if (step.verdict.passed) lineage.final = step.instruction;
      upsertSearchAttributes([
        { key: EvolRoundsDone, value: round },
        { key: EvolEliminations, value: lineage.steps.filter((s) => !s.verdict.passed).length },
      ]);
    }
  } catch (err) {
    lineage.status = 'failed';
    upsertSearchAttributes([{ key: EvolStatus, value: 'failed' }]);
    throw err;
  }

  lineage.status = 'completed';
  upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
  return lineage;
}

function isUnusableOutput(err: unknown): err is ActivityFailure {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    UNUSABLE_OUTPUT_FAILURES.includes(err.cause.type ?? '')
  );
}

/** An evolver or judge that kept answering with nothing usable: the evolution failed, the parent stays. */
function unusableStep(round: number, operation: string, parent: string, err: ActivityFailure): LineageStep {
  return {
    round,
    operation,
    parent,
    instruction: '',
    response: '',
    verdict: {
      passed: false,
      rule: 'unparseable-rewrite',
      evidence: `no usable answer after every retry: ${err.cause?.message ?? err.message}`,
    },
    usage: ZERO_USAGE,
  };
}
