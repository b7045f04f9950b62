export { instructionEvolution, lineageQuery } from './instruction-evolution';
