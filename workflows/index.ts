export { instructionEvolution } from './instruction-evolution';
export { datasetEvolution } from './dataset-evolution';
export { autoEvol, autoProgressQuery } from './auto-evol';
export { scoreRun, scoreProgressQuery } from './score-run';
export * from './messages';
