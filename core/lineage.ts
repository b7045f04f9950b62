/**
 * A lineage: everything one instruction went through, the seed and each round with its verdict. The run store keeps
 * one per finished instruction; workflows build it, exports and reports read it.
 */
import type { LlmRole } from './endpoints';
import type { Usage } from './usage';

/** A role that gave no usable answer after every re-ask: the round fails with the role's own rule. */
export const UNUSABLE_RULES = ['rewrite-unusable', 'response-unusable', 'judge-unusable'] as const;
export type UnusableRule = (typeof UNUSABLE_RULES)[number];

/**
 * Why a round failed: one of the paper's four rules, one of our gates on the rewrite, one of our rules on the judge's
 * further answers, a role that kept giving unusable answers, or `unparseable-rewrite` (in records of 0.1.0 runs, from
 * before the re-ask limit).
 */
export type RoundRule =
  | import('./elimination').EliminationRule
  | import('./elimination').JudgeTaskRule
  | import('./gates').GateRule
  | UnusableRule
  | 'unparseable-rewrite';

export type StepVerdict = { passed: true } | { passed: false; rule: RoundRule; evidence: string };

/** Tokens and cost of one role's calls. */
export interface RoleSpend {
  usage: Usage;
  costUsd: number;
}

/** The calls made to answer a seed (round 0 of the final mix). */
export interface SeedCalls extends RoleSpend {
  reasks: number;
  retries: number;
  /** LLM calls answered (absent in records written before they were counted). */
  calls?: number;
}

/** One round of one instruction's evolution. */
export interface LineageStep {
  round: number;
  operation: string;
  /** The instruction this round evolved (the last one that passed). */
  parent: string;
  instruction: string;
  response: string;
  verdict: StepVerdict;
  usage: Usage;
  /** LLM answers that were unusable and asked again, and calls retried after a transport fault (always written; absent in records of 0.1.0's first runs, which exports still read). */
  reasks?: number;
  retries?: number;
  /** LLM calls answered in this round, re-asks included: those whose tokens are in `usage` (absent in records written before they were counted). */
  calls?: number;
  /** US dollars by the run's price table (0 when the model has no price). */
  costUsd: number;
  /** Tokens and cost by role (always written; absent in records of 0.1.0's first runs). */
  byRole?: Partial<Record<LlmRole, RoleSpend>>;
}

export type EvolutionStatus = 'running' | 'completed' | 'failed';

/** Everything one instruction went through: the seed and each round. */
export interface Lineage {
  runId: string;
  instructionId: string;
  seed: string;
  status: EvolutionStatus;
  rounds: number;
  steps: LineageStep[];
  /** The newest instruction that passed elimination (the seed if none did). */
  final: string;
  /** The responder's answer to the seed, asked in dataset runs whose seed file gave none (the paper's final mix). */
  seedResponse?: string;
  /** What asking for that answer took. */
  seedCalls?: SeedCalls;
  usage: Usage;
  costUsd: number;
}
