/** The workflows a worker runs (its bundle's entry point). Their queries and signals are in core/messages. */
export { instructionEvolution } from './instruction-evolution';
export { datasetEvolution } from './dataset-evolution';
export { autoEvol } from './auto-evol';
export { scoreRun } from './score-run';
export { rateLimiter } from './rate-limiter';
export { batchEvolution } from './batcher';
export { singleInstructionEvolution } from './single-instruction';
