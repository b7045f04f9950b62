export { instructionEvolution } from './instruction-evolution';
export { datasetEvolution } from './dataset-evolution';
export * from './messages';
