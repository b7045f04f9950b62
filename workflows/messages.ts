/** Queries and signals of EvolForge's workflows, shared by workflows and clients. */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Budget, InstructionReport, RunProgress } from '../core/dataset';
import type { Lineage } from '../core/schemas';

export const lineageQuery = defineQuery<Lineage>('lineage');

/** Sent by an instruction workflow to its dataset workflow when it ends. */
export const instructionFinishedSignal = defineSignal<[InstructionReport]>('instructionFinished');

export const progressQuery = defineQuery<RunProgress>('progress');
/** Stop starting work; running instructions finish the step they are in and wait. */
export const pauseSignal = defineSignal<[{ reason?: string }]>('pause');
/** Go on; a new budget replaces the old one when given. */
export const resumeSignal = defineSignal<[{ budget?: Budget }]>('resume');
