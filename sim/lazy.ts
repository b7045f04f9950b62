/**
 * The simulated LLM of `sim://local`, started in this process the first time a call needs it. The simulator's module
 * is loaded only then: a process whose roles all use real endpoints never loads it.
 */
import type { SimLlm } from './llm-server';

export interface LazySimulatedLlm {
  /** The simulator's base URL, starting it on the first call. */
  baseUrl: () => Promise<string>;
  /** Closes it, if it was started. */
  close: () => Promise<void>;
}

export function lazySimulatedLlm(): LazySimulatedLlm {
  let started: Promise<SimLlm> | undefined;
  return {
    baseUrl: async () => {
      started ??= import('./llm-server').then(({ startSimLlm }) => startSimLlm());
      return (await started).url;
    },
    close: async () => {
      if (started) await (await started).close();
    },
  };
}
