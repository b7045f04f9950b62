/**
 * The queries and signals of EvolForge's workflows, in one place: the workflows set their handlers, and the client,
 * the instruction-start activity and tests send or ask with the same definitions.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AutoProgress } from './auto-evol';
import type { Budget, InstructionReport, RunProgress } from './dataset';
import type { Lineage } from './schemas';
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

/** Go on; a new budget replaces the old one when given. */
export const resumeSignal = defineSignal<[{ budget?: Budget }]>('resume');
