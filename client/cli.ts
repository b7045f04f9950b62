#!/usr/bin/env node
/**
 * `evol`: the EvolForge command line. Each command works on its own on the embedded default (it
 * starts the Temporal dev server and an in-process worker) or against a configured cluster.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { EXPORT_FORMATS, EXPORT_ROUNDS } from '../core/export';
import { INPUT_FIELDS } from '../core/input-shapes';
import { DEFAULT_DUPLICATE_THRESHOLD } from '../core/near-duplicates';
import {
  runCodecServerCommand,
  runDemo,
  runEvolve,
  runMakeCurrentCommand,
  runServerCommand,
  runWorkerCommand,
  runWorkersCommand,
} from './commands';
import { runEstimate } from './estimate';
import { DEFAULT_SHARD_ROWS } from './export';
import { runReplay } from './replay';
import { runCancel, runRetry, runDataset, runExport, runList, runPause, runResume, runStatus } from './run';
import { exitCodesHelp, reportError } from './errors';
import { runReport } from './report';
import { runScore } from './score';
import { runStoreCheck, runStoreCopy } from './store';
import { defaultDataDir } from '../store/location';
import { defaultLogFile, routeProcessWarnings } from '../worker/runtime';
import { isS3Url, parseS3Url } from '../store/s3-objects';
import { runAuto, runAutoExportMethod, runAutoPause, runAutoResume, runAutoShow, runAutoStatus } from './auto';

/** A store location: an `s3://` URL is checked here, so a typo stops the command before it starts anything. */
function storeOption(value: string): string {
  if (isS3Url(value)) {
    try {
      parseS3Url(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  }
  return value;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function fraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('expected a number above 0, at most 1');
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number, 0 or more');
  return n;
}

const unusableRetriesOption = () =>
  new Option(
    '--unusable-retries <n>',
    'ask an unusable LLM answer again at once at most N times, then fail the round (default 2, or the config file)',
  ).argParser(nonNegativeInt);

const verboseOption = () =>
  new Option('--verbose', 'also print the worker log (retries, LLM faults, warnings) to the terminal');

const batchOption = () =>
  new Option(
    '--batch',
    "send the LLM calls through the provider's Batch API: half price, answers within 24 hours per batch (settings: `batch` in the config file)",
  );

const INPUT_FIELD_HELP =
  'the field appended to the instruction as its input, instead of those recognised by name ' +
  `(${INPUT_FIELDS.join(', ')})`;

const llmOption = () =>
  new Option('--llm <mode>', 'auto: the simulated LLM unless one is configured; sim: always simulated; real: never')
    .choices(['auto', 'sim', 'real'])
    .default('auto');

/** The options that make a new dataset run's settings: `evol run` and `evol estimate` take the same. */
function newRunOptions(command: Command): Command {
  return command
    .option(
      '--input <file>',
      'seeds: JSONL, JSON, CSV or Parquet (Alpaca, ShareGPT, chat messages, self-instruct, question/problem, plain)',
    )
    .option('--instruction-field <name>', 'the field that holds the instruction (default: recognised by name)')
    .option('--input-field <name>', INPUT_FIELD_HELP)
    .option('--id-field <name>', "the field that holds each row's id (default: id, else its line or row number)")
    .option('--rounds <n>', 'rounds of evolution', positiveInt, 4)
    .option('--seed <n>', 'seed of the operation plans (same seed, same plans)', integer, 0)
    .option('--concurrency <n>', 'instructions evolving at once', positiveInt, 16)
    .option('--method <set>', 'evolving method: general, code, math, or a method file (JSON/YAML)', 'general')
    .option('--rpm <n>', "requests per minute each role's endpoint allows, shared by every worker", positiveInt)
    .option('--tpm <n>', "tokens per minute each role's endpoint allows, shared by every worker", positiveInt)
    .option(
      '--prices <file>',
      'JSON price table overriding the defaults: {"model": {"inputPerMillion": 0.15, "outputPerMillion": 0.6}}',
    )
    .option('--strict', 'stop on the first invalid input row instead of skipping it')
    .option(
      '--no-seed-answers',
      "don't ask the responder to answer seeds that have no answer in the file (their rows then leave the export's mix)",
    )
    .addOption(batchOption())
    .option('--config <file>', 'config file (JSON or YAML)')
    .addOption(llmOption());
}

/** `status <run> [--json]`, for dataset and learning runs alike. */
function statusCommand(
  parent: Command,
  description: string,
  action: (runId: string, options: { json?: boolean }) => Promise<void>,
): void {
  parent
    .command('status')
    .description(description)
    .argument('<run>', 'run id')
    .option('--json', 'print it as JSON')
    .action(action);
}

export function buildProgram(): Command {
  const program = new Command('evol')
    .description('EvolForge: durable Evol-Instruct on Temporal. Evolves seed instructions into harder, richer ones.')
    .option(
      '--store <location>',
      'the run store: s3://BUCKET/PREFIX, or a directory (default: EVOL_STORE, else .evolforge/runs)',
      storeOption,
    )
    .configureHelp({ showGlobalOptions: true })
    .hook('preAction', (command) => {
      // Read by every part of this process that opens the store, the in-process worker too.
      const { store } = command.optsWithGlobals<{ store?: string }>();
      if (store) process.env.EVOL_STORE = store;
    })
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Temporal: nothing configured means the embedded dev server (started in the background, data in
.evolforge/, UI on http://127.0.0.1:8233). Set TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_* or TEMPORAL_PROFILE to use another cluster or Temporal Cloud. A command that follows a run waits
EVOL_WORKER_WAIT_SECONDS (default 60) for a worker of its task queue when none answers.
Run store: --store or EVOL_STORE (s3://BUCKET/PREFIX with AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
AWS_ENDPOINT_URL for an S3-compatible server; or a directory), else .evolforge/runs.
LLM: OPENAI_API_KEY and OPENAI_BASE_URL (any OpenAI-compatible server), EVOL_MODEL, per role
EVOL_EVOLVER_MODEL / EVOL_RESPONDER_MODEL / EVOL_JUDGE_MODEL (and _BASE_URL, _API_KEY_ENV), or a
config file (evolforge.config.json|yaml, --config). With none of these, a built-in simulated LLM is used.`,
    );

  program
    .command('server')
    .description('run the Temporal dev server (SQLite file in the data dir, UI on 8233); `evol server stop` stops it')
    .argument('[action]', 'start (default) or stop', 'start')
    .option('--data-dir <dir>', 'where the SQLite file and the server log go (default: EVOL_DATA_DIR or .evolforge)')
    .option('--port <port>', 'frontend port', positiveInt, 7233)
    .option('--ui-port <port>', 'Temporal UI port', positiveInt, 8233)
    .option('--ui-codec-endpoint <url>', 'codec server the UI decodes payloads with (see `evol codec-server`)')
    .action(runServerCommand);

  program
    .command('codec-server')
    .description(
      'serve the payload codec to Temporal UI and the temporal CLI, so they show encrypted payloads in plain text',
    )
    .option('--port <port>', 'port to listen on', positiveInt, 8888)
    .option('--host <ip>', 'address to listen on (anyone who reaches it can decrypt)', '127.0.0.1')
    .option(
      '--ui-origin <origin>',
      'browser origin of Temporal UI allowed to call it; repeat for several (default: http://127.0.0.1:8233 and http://localhost:8233)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .action(runCodecServerCommand);

  program
    .command('worker')
    .description('run a worker that executes EvolForge workflows and LLM calls (keys come from this environment)')
    .option('--task-queue <name>', 'task queue to poll', 'evolforge')
    .option('--max-concurrent <n>', 'LLM calls in flight in this worker', positiveInt, 100)
    .option('--rate-limit <perSecond>', 'LLM calls per second for the whole task queue, all workers together', Number)
    .option(
      '--make-current',
      "make this worker's build current: new workflows go to it (without it, only when the deployment has none)",
    )
    .addOption(verboseOption())
    .addHelpText(
      'after',
      "\nEnvironment: EVOL_METRICS_ADDRESS=IP:PORT serves the Temporal SDK's Prometheus metrics there (workflow task and\nserver call latencies, task slots) and, with a bucket as the run store, its requests and bytes by kind\n(evol_store_requests, evol_store_request_bytes); EVOL_HEAP_GROWING_PERCENT bounds the heap's growth between\ncollections (default 40, 0 leaves it to V8). EVOL_DEPLOYMENT_NAME names its Worker Deployment (default\nevolforge); its build id is the release and a hash of its workflow code.",
    )
    .action(runWorkerCommand);

  const workers = program
    .command('workers')
    .description("the builds of EvolForge's Worker Deployment: which is current, and which workflows still run on each")
    .option('--json', 'print them as JSON')
    .action(runWorkersCommand);
  workers
    .command('current')
    .description('make a build current: new workflows go to it; pinned ones finish on the build they started on')
    .argument('<build>', 'a build id, as `evol workers` lists them')
    .action(runMakeCurrentCommand);

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
    .addOption(unusableRetriesOption())
    .addOption(verboseOption())
    .option('--task-queue <name>', 'task queue', 'evolforge')
    .action(runEvolve);

  newRunOptions(
    program.command('run').description('evolve a whole seed file as one durable run, following it with a progress bar'),
  )
    .option('--run-id <id>', 'name of the run (default: generated, printed first)')
    .option('--resume', 'continue an existing run (skips what is already done)')
    .option('--max-tokens <n>', 'pause the run once this many tokens are spent', positiveInt)
    .option('--max-cost <usd>', 'pause the run once this many US dollars are spent', positiveNumber)
    .option('--detach', 'start the run and return without following it')
    .addOption(unusableRetriesOption())
    .addOption(verboseOption())
    .option('--task-queue <name>', 'task queue', 'evolforge')
    .addHelpText('after', exitCodesHelp('evol resume RUN', 'evol run --run-id RUN --resume'))
    .action((options) => runDataset(options).then(() => undefined));

  newRunOptions(
    program
      .command('estimate')
      .description(
        'what `evol run` with the same options would spend (calls, tokens per role, cost, wall time), before any LLM call',
      ),
  )
    .option(
      '--sample <n>',
      "first ask the LLM round 1 of N seeds (3 calls each) to learn its answers' lengths; by default no call is made",
      positiveInt,
    )
    .option(
      '--latency-ms <ms>',
      'the time one LLM call takes (default: 500 ms plus 50 answer tokens a second)',
      positiveInt,
    )
    .option('--json', 'print it as JSON')
    .action(runEstimate);

  statusCommand(
    program,
    "a run's progress: counts per round and outcome, eliminations by rule, tokens, cost, rate, ETA",
    runStatus,
  );

  program
    .command('pause')
    .description('pause a run: running steps finish, nothing new starts')
    .argument('<run>', 'run id')
    .action(runPause);

  program
    .command('resume')
    .description('resume a paused run, optionally with a new budget')
    .argument('<run>', 'run id')
    .option('--max-tokens <n>', 'new token budget', positiveInt)
    .option('--max-cost <usd>', 'new cost budget in US dollars', positiveNumber)
    .action(runResume);

  program
    .command('cancel')
    .description('cancel a run (finished records stay)')
    .argument('<run>', 'run id')
    .action(runCancel);

  program
    .command('export')
    .description("write a run's evolved instructions as a training set")
    .argument('<run>', 'run id')
    .addOption(
      new Option(
        '--format <format>',
        'row shape (JSON for alpaca, JSONL for the chat formats; Parquet with --dataset or an --out ending in .parquet); parquet: a Parquet file with the alpaca columns',
      )
        .choices([...EXPORT_FORMATS, 'parquet'])
        .default('alpaca'),
    )
    .option('--out <file>', 'output file, or s3://BUCKET/KEY (default: stdout)')
    .option(
      '--dataset <dir>',
      'write a folder that the Hugging Face datasets library loads as it is (load_dataset(DIR)): Parquet shards in data/ and a README.md dataset card; or s3://BUCKET/PREFIX',
    )
    .option('--shard-rows <n>', 'rows per Parquet shard of --dataset at most', positiveInt, DEFAULT_SHARD_ROWS)
    .addOption(
      new Option(
        '--rounds <which>',
        "all: the seeds and every passed round, the paper's mix; final: the last passed round per seed",
      )
        .choices([...EXPORT_ROUNDS])
        .default('all'),
    )
    .option('--no-seeds', 'leave the seed rows out (with --rounds all)')
    .option('--no-shuffle', 'keep the rows in seed and round order')
    .option('--seed <n>', "shuffle seed (default: the run's seed)", integer)
    .addOption(new Option('--include-seeds', 'add the seed rows (with --rounds final)'))
    .option('--sample <n>', 'keep only N rows (after shuffling)', positiveInt)
    .option('--dedup', 'keep one row of each cluster of near-duplicate instructions (MinHash)')
    .option(
      '--dedup-threshold <similarity>',
      'estimated Jaccard similarity of word 3-grams from which two instructions are near-duplicates',
      fraction,
      DEFAULT_DUPLICATE_THRESHOLD,
    )
    .option(
      '--decontaminate <files...>',
      'benchmark prompts (JSONL, JSON, CSV, Parquet): drop rows sharing a run of 13 words with any of them',
    )
    .option('--benchmark-field <name>', 'the field of the benchmark files that holds the prompt')
    .action((runId, options) =>
      runExport(runId, {
        format: options.format,
        out: options.out,
        dataset: options.dataset,
        shardRows: options.shardRows,
        rounds: options.rounds,
        includeSeeds: options.seeds !== false && (options.rounds === 'all' || Boolean(options.includeSeeds)),
        shuffle: options.shuffle !== false,
        seed: options.seed,
        sample: options.sample,
        ...(options.dedup ? { dedup: { threshold: options.dedupThreshold } } : {}),
        ...(options.decontaminate ? { benchmarks: options.decontaminate, benchmarkField: options.benchmarkField } : {}),
      }),
    );

  program
    .command('report')
    .description(
      'one self-contained HTML page of a run (funnel, operations, lengths, difficulty, spend, near-duplicates, contamination, lineages)',
    )
    .argument('<run>', 'run id')
    .option('--out <file>', 'the HTML file (default: reports/<run>.html in the data dir)')
    .option('--text', 'print the figures to the terminal instead')
    .option('--lineages <n>', 'lineages shown to read', positiveInt, 8)
    .option('--dedup-threshold <similarity>', 'near-duplicate threshold (estimated Jaccard of word 3-grams)', fraction)
    .option('--decontaminate <files...>', 'benchmark prompts to check the rows against (JSONL, JSON, CSV, Parquet)')
    .option('--benchmark-field <name>', 'the field of the benchmark files that holds the prompt')
    .action(async (runId, options) => {
      await runReport(runId, options);
    });

  program
    .command('score')
    .description("rate a run's rows for difficulty and complexity (1-10) with the scorer LLM, each once, durably")
    .argument('<run>', 'run id')
    .option('--sample <n>', 'at most N rows of each round (default: every row)', positiveInt)
    .option('--rounds <which>', 'all, or rounds such as 0,1,2 (0: the seeds)', 'all')
    .option('--seed <n>', 'seed of the sample', integer, 0)
    .option('--concurrency <n>', 'ratings in flight at once', positiveInt, 16)
    .option('--detach', 'start the scoring and return without following it')
    .option('--config <file>', 'config file (JSON or YAML)')
    .addOption(llmOption())
    .addOption(verboseOption())
    .option('--task-queue <name>', 'task queue', 'evolforge')
    .action(runScore);

  program
    .command('retry')
    .description("re-run a run's failed or unfinished instructions, keeping their earlier lineage")
    .argument('<run>', 'run id')
    .option(
      '--from-round <k>',
      'restart the failed instructions from round K (default: after their last good round)',
      positiveInt,
    )
    .option('--only-failed', 'only instructions whose evolution failed (not those never started or cancelled)')
    .option('--detach', 'start the retry and return without following it')
    .option('--task-queue <name>', 'task queue', 'evolforge')
    .addHelpText('after', exitCodesHelp('evol resume RUN', 'evol run --run-id RUN --resume'))
    .action(runRetry);

  program
    .command('replay')
    .description('replay a workflow history against the current code and say whether it is deterministic')
    .argument('[workflowId]', 'a workflow on the Temporal server (e.g. evol-RUN-SEEDID)')
    .option('--history <file>', 'a history file (Temporal UI export or `temporal workflow show --output json`)')
    .option('--execution <id>', 'the Temporal run id of one execution of the workflow (default: the latest)')
    .action(runReplay);

  program.command('runs').description('list the runs in the run store').action(runList);

  const store = program.command('store').description('check a run store, or copy a run from one store to another');
  store
    .command('check')
    .description(
      'check that a store (default: the current one) can be read and written, and whether it honours write-once',
    )
    .argument('[location]', 's3://BUCKET/PREFIX or a directory')
    .option('--create-bucket', 'create the bucket if it is missing')
    .action(runStoreCheck);
  store
    .command('copy')
    .description(
      'copy a run (seeds, records, scores, methods, batch rows) to another store, e.g. from a laptop to a bucket',
    )
    .argument('<run>', 'run id')
    .requiredOption('--to <location>', 'the store to copy it to: s3://BUCKET/PREFIX or a directory', storeOption)
    .option('--from <location>', 'the store it is in (default: the current one)', storeOption)
    .addHelpText(
      'after',
      '\nStop or pause the run first: what its workers write during the copy may be missed. The run appears in the\ndestination whole (its meta.json is written last), and a copy cut short can be run again.',
    )
    .action(runStoreCopy);

  program
    .command('demo')
    .description(
      'a run over the sample seeds shipped with EvolForge, exported, ending with the Temporal UI link (what `npm start` runs)',
    )
    .option('--rounds <n>', 'rounds of evolution', positiveInt, 4)
    .option('--seed <n>', 'seed of the operation plans', integer, 0)
    .addOption(batchOption())
    .option('--config <file>', 'config file (JSON or YAML)')
    .addOption(llmOption())
    .action(runDemo);

  const auto = program
    .command('auto')
    .description('learn an evolving method with Auto Evol-Instruct: an optimizer LLM improves it step by step')
    .option('--input <file>', 'instructions to learn from (the formats of evol run --input)')
    .option('--instruction-field <name>', 'the field that holds the instruction (default: recognised by name)')
    .option('--input-field <name>', INPUT_FIELD_HELP)
    .option('--id-field <name>', "the field that holds each row's id")
    .addOption(
      new Option('--dev <file>', 'development set: its evolutions decide between candidate methods').conflicts(
        'devSize',
      ),
    )
    .addOption(new Option('--dev-size <n>', 'development set drawn from the input (default 50)').argParser(positiveInt))
    .option('--steps <n>', 'optimization steps at most (default 10)', positiveInt)
    .option('--candidates <m>', 'candidate methods per step (default 5)', positiveInt)
    .option('--batch-size <n>', 'instructions per mini-batch (default 10)', positiveInt)
    .option('--evolutions <l>', 'evolutions of each mini-batch instruction in the trajectory (default 3)', positiveInt)
    .option(
      '--patience <n>',
      'stop early after N steps in a row whose failure rate did not fall (default: run every step of --steps)',
      positiveInt,
    )
    .option('--seed <n>', 'seed of the dev set and mini-batch draws (default 0)', integer)
    .option('--concurrency <n>', 'LLM calls in flight at once (default 16)', positiveInt)
    .option('--run-id <id>', 'name of the run (default: generated, printed first)')
    .option('--resume', 'follow an existing learning run again (started over if its workflow failed)')
    .addOption(
      new Option(
        '--detector <which>',
        "a failed dev-set evolution: paper (the paper's F(r) alone, rates comparable with it) or paper-and-rules (also elimination rules 4, 2, 3)",
      ).choices(['paper', 'paper-and-rules']),
    )
    .option('--then-run', 'afterwards, evolve the whole input with the learned method as a dataset run')
    .option('--rounds <n>', 'rounds of the --then-run dataset run (default 1)', positiveInt)
    .option('--strict', 'stop on the first invalid input row instead of skipping it')
    .option('--detach', 'start the learning and return without following it')
    .option('--config <file>', 'config file (JSON or YAML)')
    .addOption(llmOption())
    .addOption(unusableRetriesOption())
    .addOption(verboseOption())
    .option('--task-queue <name>', 'task queue', 'evolforge')
    .addHelpText(
      'after',
      `
The evol LLM is the evolver role (temperature 0 unless the config file sets one) and the responder role
answers its evolutions; the optimizer LLM starts from the evolver's settings at temperature 0.6 and takes
EVOL_OPTIMIZER_MODEL, EVOL_OPTIMIZER_BASE_URL and EVOL_OPTIMIZER_API_KEY_ENV.`,
    )
    .addHelpText('after', exitCodesHelp('evol auto resume RUN', 'evol auto --run-id RUN --resume'))
    .action((options) => runAuto(options).then(() => undefined));

  statusCommand(
    auto,
    'steps so far, the failure rate of every candidate, the chosen ones and the current method',
    runAutoStatus,
  );

  auto
    .command('show')
    .description('the learned method and its failure rate step by step')
    .argument('<run>', 'run id')
    .action(runAutoShow);

  auto
    .command('export-method')
    .description('save the learned method as a method file for `evol run --method FILE`')
    .argument('<run>', 'run id')
    .requiredOption('--out <file>', 'the method file to write (JSON)')
    .action(runAutoExportMethod);

  auto
    .command('pause')
    .description('pause a learning run: LLM calls in flight finish, no new one starts')
    .argument('<run>', 'run id')
    .action(runAutoPause);

  auto.command('resume').description('resume a paused learning run').argument('<run>', 'run id').action(runAutoResume);

  return program;
}

if (require.main === module) {
  routeProcessWarnings(defaultLogFile(defaultDataDir()));
  // Exit explicitly: the Temporal runtime keeps handles (and signal handlers) that would hold the process open.
  buildProgram()
    .parseAsync(process.argv)
    .then(
      () => process.exit(process.exitCode ?? 0),
      (err) => process.exit(reportError(err)),
    );
}
