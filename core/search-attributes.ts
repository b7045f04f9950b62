/**
 * Search attributes that make EvolForge's workflows findable in Temporal UI. They must be
 * registered on the namespace (the embedded dev server does it at start with --search-attribute).
 */
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';

export const EvolRunId = defineSearchAttributeKey('EvolRunId', SearchAttributeType.KEYWORD);
export const EvolInstructionId = defineSearchAttributeKey('EvolInstructionId', SearchAttributeType.KEYWORD);
/** running | completed | failed (and paused for dataset runs). */
export const EvolStatus = defineSearchAttributeKey('EvolStatus', SearchAttributeType.KEYWORD);
export const EvolRoundsDone = defineSearchAttributeKey('EvolRoundsDone', SearchAttributeType.INT);
export const EvolEliminations = defineSearchAttributeKey('EvolEliminations', SearchAttributeType.INT);
/** instruction | dataset | auto | score */
export const EvolKind = defineSearchAttributeKey('EvolKind', SearchAttributeType.KEYWORD);

/** Every key with its type name as `temporal server start-dev --search-attribute` takes it. */
export const SEARCH_ATTRIBUTES: ReadonlyArray<{ name: string; type: 'Keyword' | 'Int' }> = [
  { name: EvolRunId.name, type: 'Keyword' },
  { name: EvolInstructionId.name, type: 'Keyword' },
  { name: EvolStatus.name, type: 'Keyword' },
  { name: EvolRoundsDone.name, type: 'Int' },
  { name: EvolEliminations.name, type: 'Int' },
  { name: EvolKind.name, type: 'Keyword' },
];

/** What an instruction workflow starts with, however it is started: findable by its run and id, running. */
export function instructionStartAttributes(runId: string, instructionId: string): SearchAttributePair[] {
  return [
    { key: EvolRunId, value: runId },
    { key: EvolInstructionId, value: instructionId },
    { key: EvolKind, value: 'instruction' },
    { key: EvolStatus, value: 'running' },
  ];
}
