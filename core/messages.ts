/**
 * The queries and signals of EvolForge's workflows, in one place: the workflows set their handlers, and the client,
 * the instruction-start activity and tests send or ask with the same definitions.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AutoProgress } from './auto-evol';
import type { Budget, InstructionReport, RunProgress, SpendReport, SpendView } from './dataset';
import type { Lease, LeaseRequest } from './rate-limits';
import type { Lineage } from './lineage';
import type { ScoreProgress } from './scoring';

/** An instruction workflow's lineage so far. */
export const lineageQuery = defineQuery<Lineage>('lineage');

/** Sent by an instruction workflow to its dataset workflow when it ends. */
export const instructionFinishedSignal = defineSignal<[InstructionReport]>('instructionFinished');

/** A dataset run's counts and status. */
export const progressQuery = defineQuery<RunProgress>('progress');

/** An Auto Evol-Instruct learning's steps, methods and status. */
export const autoProgressQuery = defineQuery<AutoProgress>('autoProgress');

/** An `evol score` run's counts. */
export const scoreProgressQuery = defineQuery<ScoreProgress>('scoreProgress');

/** Stop starting work; running instructions finish the step they are in and wait. */
export const pauseSignal = defineSignal<[{ reason?: string }]>('pause');

/**
 * Go on; a new budget replaces the old one when given. To an instruction workflow a dataset run also sends its
 * resume count, so one held by the budget knows whether this resume came after the budget stopped it.
 */
export const resumeSignal = defineSignal<[{ budget?: Budget; resumes?: number }]>('resume');

/** A worker renews its lease on an endpoint's rate limits (workflows/rate-limiter.ts). */
export const leaseUpdate = defineUpdate<Lease, [LeaseRequest]>('lease');

/** A worker reports what its LLM calls of a dataset run spent, and learns the run's spend and budget. */
export const spendUpdate = defineUpdate<SpendView, [SpendReport]>('spend');
