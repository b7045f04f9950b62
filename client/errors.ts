/** How the CLI reports a failure: the message that says what to do, no stack trace unless EVOL_DEBUG is set. */
import { WorkflowFailedError } from '@temporalio/client';
import { UserError } from '../core/validation';

/** The innermost cause's message: what actually went wrong. */
export function rootMessage(err: unknown): string {
  let current: unknown = err;
  const seen = new Set<unknown>();
  while (current instanceof Error && (current as { cause?: unknown }).cause && !seen.has(current)) {
    seen.add(current);
    current = (current as { cause?: unknown }).cause;
  }
  return current instanceof Error ? current.message : String(current);
}

/** Prints the error and returns the exit code. */
export function reportError(err: unknown): number {
  if (process.env.EVOL_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  if (err instanceof UserError) {
    process.stderr.write(`evol: ${err.message}\n`);
    return 2;
  }
  if (err instanceof WorkflowFailedError) {
    process.stderr.write(`evol: the workflow failed: ${rootMessage(err)}\n`);
    return 1;
  }
  process.stderr.write(`evol: ${rootMessage(err)}\n`);
  return 1;
}
