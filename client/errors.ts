/** How the CLI ends: its exit codes, and the message that says what to do, no stack trace unless EVOL_DEBUG is set. */
import { WorkflowFailedError } from '@temporalio/client';
import { UserError } from '../core/validation';

/**
 * The exit codes of every `evol` command, defined here only (README, Exit codes, and `evol run --help` list them).
 * Scripts tell "done" from "paused, go on later" from "broken" by them.
 */
export const EXIT = {
  /** The command did what it was asked: a followed run, learning or scoring completed. */
  ok: 0,
  /** A failure: a workflow failed, Temporal or the run store could not be reached, no worker answered. */
  failed: 1,
  /** Bad input or a setting to fix before anything runs; the message names it. */
  badInput: 2,
  /**
   * The followed run is paused and did not finish: it paused itself (a budget reached, an LLM setting such as a
   * rejected key, the run store's settings) or was paused by `evol pause`. The reason and how to go on are on stderr.
   */
  paused: 3,
  /** `evol store check`: the store works but ignores conditional writes (no write-once). */
  writeOnceIgnored: 4,
  /** Ctrl-C: following stopped; the run goes on without this command. */
  detached: 130,
} as const;

/** The exit codes of a command that follows a run, as its `--help` shows them, with the commands that go on. */
export function exitCodesHelp(resume: string, follow: string): string {
  return `
Exit codes:
  ${EXIT.ok}    the run completed
  ${EXIT.failed}    it failed, or Temporal, the run store or a worker could not be reached
  ${EXIT.badInput}    bad input or a setting to fix (the message names it)
  ${EXIT.paused}    the run is paused and did not finish: it paused itself (a budget reached, an LLM setting such as
       a rejected key, the run store's settings) or was paused by request; the reason is on stderr.
       Fix it, then \`${resume}\` goes on and \`${follow}\` follows it again
  ${EXIT.detached}  Ctrl-C: the run goes on without this command
When no worker answers (one restarting on a cluster), it waits for one: EVOL_WORKER_WAIT_SECONDS (default 60).`;
}

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
    return EXIT.badInput;
  }
  if (err instanceof WorkflowFailedError) {
    process.stderr.write(`evol: the workflow failed: ${rootMessage(err)}\n`);
    return EXIT.failed;
  }
  process.stderr.write(`evol: ${rootMessage(err)}\n`);
  return EXIT.failed;
}
