/**
 * What the benches share: the run's shape on the command line, their child processes (started, watched, stopped
 * on the way out) and what /proc says of each process's memory and CPU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { SimStats } from '../sim/types';

const RSS_INTERVAL_MS = 500;
const STOP_GRACE_MS = 10_000;
const OUTPUT_TAIL_CHARS = 20_000;
const SIM = path.join(__dirname, '..', 'sim', 'main.js');

export const note = (line: string) => process.stderr.write(`[bench] ${line}\n`);

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number, 0 or more');
  return n;
}

export function positiveInt(value: string): number {
  const n = nonNegativeInt(value);
  if (n === 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** N, R, L and C: the options every bench of a dataset run's shape takes, with the same defaults. */
export interface RunShape {
  seeds: number;
  rounds: number;
  latencyMs: number;
  concurrency: number;
}

/** Adds the {@link RunShape} options; `unit` names what N counts (seed instructions, workflows). */
export function withRunShape(command: Command, unit: string): Command {
  return command
    .option('--seeds <n>', `${unit} in the run`, positiveInt, 1000)
    .option('--rounds <n>', 'rounds of evolution per seed (one call, then two at once)', positiveInt, 2)
    .option('--latency-ms <ms>', 'latency of every LLM call', positiveInt, 500)
    .option('--concurrency <n>', `${unit} running at once`, positiveInt, 32);
}

/** The p-th percentile (nearest rank) of sorted values; NaN when there are none. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Undo steps, run last-in first-out, once, whether the bench ends, fails or is interrupted. */
export class Cleanup {
  private readonly steps: Array<() => Promise<void>> = [];
  private running?: Promise<void>;

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        await step().catch((err: unknown) => note(`cleanup step failed: ${String(err)}`));
      }
    })();
    return this.running;
  }
}

export interface NodeProcess {
  name: string;
  pid: number;
  exited: Promise<number | null>;
  /** The end of its stdout and stderr, kept for error messages rather than shown. */
  tail(): string;
  stop(): Promise<void>;
}

export function spawnNode(name: string, args: string[], env: NodeJS.ProcessEnv, cleanup: Cleanup): NodeProcess {
  const child: ChildProcess = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  cleanup.add(stop);
  if (child.pid === undefined) throw new Error(`could not start the ${name} process`);
  return { name, pid: child.pid, exited, tail: () => output, stop };
}

export async function waitForOutput(proc: NodeProcess, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void proc.exited.then((code) => (exitCode = code));
  while (!proc.tail().includes(text)) {
    if (exitCode !== undefined)
      throw new Error(`the ${proc.name} exited (${exitCode}) before it was ready:\n${proc.tail()}`);
    if (Date.now() > deadline) throw new Error(`the ${proc.name} was not ready after ${timeoutMs} ms:\n${proc.tail()}`);
    await delay(100);
  }
}

/** The simulated LLM in its own process, answering after `latencyMs`; `args`: more of its options (limits). */
export async function startSimProcess(
  port: number,
  latencyMs: number,
  args: string[],
  cleanup: Cleanup,
): Promise<NodeProcess> {
  const sim = spawnNode(
    'simulated LLM',
    [SIM, '--port', String(port), '--latency-ms', String(latencyMs), ...args],
    process.env,
    cleanup,
  );
  await waitForOutput(sim, 'simulated LLM listening', 30_000);
  return sim;
}

/** What the simulated LLM counted so far (GET /_sim/stats), but the calls in flight. */
export type SimCounters = Omit<SimStats, 'inFlight'>;

export async function simStats(port: number): Promise<SimCounters> {
  const response = await fetch(`http://127.0.0.1:${port}/_sim/stats`);
  if (!response.ok) throw new Error(`GET /_sim/stats answered ${response.status}`);
  return (await response.json()) as SimCounters;
}

/** Ctrl-C or SIGTERM stops what `cleanup` holds (`what`, for the message) before the bench exits. */
export function onInterrupt(cleanup: Cleanup, what: string): void {
  const stop = (signal: NodeJS.Signals) => {
    note(`${signal}: stopping ${what}`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Peak VmRSS of each process, sampled from /proc, and the CPU time each (and the whole machine) spent meanwhile. */
export class ProcessSampler {
  private readonly peaksKb = new Map<string, number>();
  private readonly cpuTicks = new Map<string, { first: number; last: number }>();
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private stoppedAt?: number;

  constructor(private readonly pids: Record<string, number | undefined>) {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), RSS_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sample();
    this.stoppedAt = Date.now();
  }

  peakMb(label: string): number | undefined {
    const kb = this.peaksKb.get(label);
    return kb === undefined ? undefined : round(kb / 1024, 1);
  }

  /** Average CPU cores used over the sampled time. */
  cores(label: string): number | undefined {
    const ticks = this.cpuTicks.get(label);
    const seconds = ((this.stoppedAt ?? Date.now()) - this.startedAt) / 1000;
    return ticks === undefined ? undefined : round((ticks.last - ticks.first) / CLOCK_TICKS / seconds, 2);
  }

  private async sample(): Promise<void> {
    this.recordTicks(MACHINE, await readMachineBusyTicks());
    for (const [label, pid] of Object.entries(this.pids)) {
      if (pid === undefined) continue;
      const kb = await readRssKb(pid);
      if (kb !== undefined) this.peaksKb.set(label, Math.max(kb, this.peaksKb.get(label) ?? 0));
      this.recordTicks(label, await readCpuTicks(pid));
    }
  }

  private recordTicks(label: string, ticks: number | undefined): void {
    if (ticks === undefined) return;
    const seen = this.cpuTicks.get(label);
    this.cpuTicks.set(label, { first: seen?.first ?? ticks, last: ticks });
  }
}

export const CLOCK_TICKS = 100;
export const MACHINE = 'machine';

export async function readRssKb(pid: number): Promise<number | undefined> {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(await fs.readFile(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime; the command name (field 2) may hold spaces, so fields are counted after its closing paren. */
async function readCpuTicks(pid: number): Promise<number | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Every CPU's busy time (all but idle and iowait), to see load from other processes on the machine. */
async function readMachineBusyTicks(): Promise<number | undefined> {
  try {
    const [, ...values] = (await fs.readFile('/proc/stat', 'utf8')).split('\n')[0].trim().split(/\s+/);
    const ticks = values.slice(0, 8).map(Number);
    return ticks.reduce((a, b) => a + b, 0) - ticks[3] - ticks[4];
  } catch {
    return undefined;
  }
}
