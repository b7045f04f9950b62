/**
 * What an instruction workflow is started with: ids and settings, never a secret. Two workflows evolve one
 * instruction, told apart by what starts them: `instructionEvolution`, an instruction of a dataset run (started by
 * its dataset workflow, recorded in the run store), and `singleInstructionEvolution`, `evol evolve` on one
 * instruction (its lineage is its result). They share the round code (workflows/rounds.ts).
 */
import type { LlmConfig, LlmRetry } from './endpoints';
import type { LineageStep } from './lineage';
import type { Operation } from './operations';
import type { ModelPrice } from './pricing';
import type { QualitySettings } from './settings-schemas';

/** The part of a run's settings each instruction evolves with. */
export interface RunEvolutionSettings {
  llm: LlmConfig;
  operations: Operation[];
  prices: Record<string, ModelPrice>;
  quality: QualitySettings;
  /** Answer a seed that has no answer of its own, for the paper's final mix. */
  answerSeeds: boolean;
}

/**
 * What a dataset run's instruction needs from the run store before its first round, read by the activity that starts
 * it (activities/instruction-starts.ts): its first workflow task then schedules its first LLM call.
 */
export interface InstructionStart {
  text: string;
  /** The seed file gave the seed an answer of its own. */
  hasOutput: boolean;
  run: RunEvolutionSettings;
  /** `evol retry`: the steps of an earlier failed attempt, to go on from. */
  earlierSteps?: LineageStep[];
}

/** An instruction of a dataset run. */
export interface DatasetInstructionInput {
  kind: 'dataset';
  runId: string;
  instructionId: string;
  rounds: number;
  /** The run's seed: with the instruction id it draws the round plan. */
  seed: number;
  /** The dataset workflow this instruction reports to, and whose budget its calls count against. */
  parentWorkflowId: string;
  begun: InstructionStart;
  /** Retry policy of the LLM calls, when not the default (10 attempts from 2 s). */
  llmRetry?: LlmRetry;
}

/** `evol evolve`: one instruction on its own, with everything it needs in its input. */
export interface SingleInstructionInput {
  kind: 'single';
  runId: string;
  instructionId: string;
  instruction: string;
  rounds: number;
  seed: number;
  llm: LlmConfig;
  operations: Operation[];
  prices: Record<string, ModelPrice>;
  quality: QualitySettings;
}

export type InstructionInput = DatasetInstructionInput | SingleInstructionInput;

/** What the dataset workflow asks the starting activity for: the input without `begun`, and what to read into it. */
export interface InstructionStartRequest {
  input: Omit<DatasetInstructionInput, 'begun'>;
  /** `evol retry`: read the earlier failed attempt's steps (all, or those before `fromRound`). */
  resumeFrom?: { fromRound?: number };
  /** By the run's id scheme (core/ids). */
  workflowId: string;
  /** Shown in Temporal UI: ids and settings only, never seed text. */
  staticSummary: string;
  staticDetails: string;
}
