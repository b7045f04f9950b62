#!/usr/bin/env node
/**
 * `evol`: the EvolForge command line. Each command works on its own on the embedded default (it
 * starts the Temporal dev server and an in-process worker) or against a configured cluster.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { runDemo, runEvolve, runServerCommand, runWorkerCommand } from './commands';
import { reportError } from './errors';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
}

const llmOption = () =>
  new Option('--llm <mode>', 'auto: the simulated LLM unless one is configured; sim: always simulated; real: never')
    .choices(['auto', 'sim', 'real'])
    .default('auto');

export function buildProgram(): Command {
  const program = new Command('evol')
    .description('EvolForge: durable Evol-Instruct on Temporal. Evolves seed instructions into harder, richer ones.')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Temporal: nothing configured means the embedded dev server (started in the background, data in
.evolforge/, UI on http://127.0.0.1:8233). Set TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_* or TEMPORAL_PROFILE to use another cluster or Temporal Cloud.
LLM: OPENAI_API_KEY and OPENAI_BASE_URL (any OpenAI-compatible server), EVOL_MODEL, per role
EVOL_EVOLVER_MODEL / EVOL_RESPONDER_MODEL / EVOL_JUDGE_MODEL (and _BASE_URL, _API_KEY_ENV), or a
config file (evolforge.config.json|yaml, --config). With none of these, a built-in simulated LLM is used.`,
    );

  program
    .command('server')
    .description('run the Temporal dev server (SQLite file in the data dir, UI on 8233); `evol server stop` stops it')
    .argument('[action]', 'start (default) or stop', 'start')
    .option('--data-dir <dir>', 'where the SQLite file and the server log go', '.evolforge')
    .option('--port <port>', 'frontend port', positiveInt, 7233)
    .option('--ui-port <port>', 'Temporal UI port', positiveInt, 8233)
    .action(runServerCommand);

  program
    .command('worker')
    .description('run a worker that executes EvolForge workflows and LLM calls (keys come from this environment)')
    .option('--task-queue <name>', 'task queue to poll', 'evolforge')
    .option('--max-concurrent <n>', 'LLM calls in flight in this worker', positiveInt, 100)
    .option('--rate-limit <perSecond>', 'LLM calls per second for the whole task queue, all workers together', Number)
    .action(runWorkerCommand);

  program
    .command('evolve')
    .description('evolve one instruction and print its lineage')
    .argument('<text>', 'the instruction to evolve')
    .option('--rounds <n>', 'rounds of evolution', positiveInt, 4)
    .option('--seed <n>', 'seed of the operation plan (same seed, same plan)', integer, 0)
    .option('--run-id <id>', 'run id (default: generated)')
    .option('--json', 'print the lineage as JSON')
    .option('--config <file>', 'config file (JSON or YAML)')
    .addOption(llmOption())
    .option('--task-queue <name>', 'task queue', 'evolforge')
    .action(runEvolve);

  program
    .command('demo')
    .description(
      'evolve the sample seeds shipped with EvolForge and print the Temporal UI link (what `npm start` runs)',
    )
    .option('--rounds <n>', 'rounds of evolution', positiveInt, 4)
    .option('--seed <n>', 'seed of the operation plans', integer, 0)
    .option('--config <file>', 'config file (JSON or YAML)')
    .addOption(llmOption())
    .action(runDemo);

  return program;
}

if (require.main === module) {
  // Exit explicitly: the Temporal runtime keeps handles (and signal handlers) that would hold the process open.
  buildProgram()
    .parseAsync(process.argv)
    .then(
      () => process.exit(process.exitCode ?? 0),
      (err) => process.exit(reportError(err)),
    );
}
