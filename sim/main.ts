/**
 * Runs the simulated LLM on its own:
 *   node dist/sim/main.js [--port N] [--host H] [--latency-ms N] [--fault-rate X] [--fault-seed N] [--batch-delay-ms N]
 *     [--rpm N] [--tpm N] [--burst-seconds N] [--prompt-cache] [--prompt-cache-min-tokens N]
 *     [--max-in-flight N] [--server-kind llama.cpp|ollama]
 */
import { SimLlmOptions, startSimLlm } from './llm-server';

const USAGE =
  'usage: node dist/sim/main.js [--port N] [--host H] [--latency-ms N] [--fault-rate X] [--fault-seed N] [--batch-delay-ms N] [--keep-messages]\n' +
  '  [--rpm N] [--tpm N] [--burst-seconds N] [--prompt-cache] [--prompt-cache-min-tokens N]\n' +
  '  [--max-in-flight N] [--server-kind llama.cpp|ollama]';

function numberArg(flag: string, value: string | undefined, check: (n: number) => boolean): number {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isFinite(n) || !check(n)) {
    throw new Error(`${flag} needs a valid number, got ${value === undefined ? 'nothing' : `"${value}"`}\n${USAGE}`);
  }
  return n;
}

function parseArgs(argv: readonly string[]): SimLlmOptions {
  const options: SimLlmOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--port':
        options.port = numberArg(flag, value(), (n) => Number.isInteger(n) && n >= 0 && n < 65536);
        break;
      case '--host':
        options.host = value();
        break;
      case '--latency-ms':
        options.latencyMs = numberArg(flag, value(), (n) => n >= 0);
        break;
      case '--fault-rate':
        options.faultRate = numberArg(flag, value(), (n) => n >= 0 && n <= 1);
        break;
      case '--fault-seed':
        options.faultSeed = numberArg(flag, value(), Number.isInteger);
        break;
      case '--batch-delay-ms':
        options.batchCompletionDelayMs = numberArg(flag, value(), (n) => n >= 0);
        break;
      case '--keep-messages':
        options.keepMessages = true;
        break;
      case '--rpm':
      case '--tpm':
        options.rateLimits = { ...options.rateLimits, [flag.slice(2)]: numberArg(flag, value(), (n) => n > 0) };
        break;
      case '--burst-seconds':
        options.rateLimits = { ...options.rateLimits, burstSeconds: numberArg(flag, value(), (n) => n > 0) };
        break;
      case '--prompt-cache':
        options.promptCache = { ...options.promptCache };
        break;
      case '--prompt-cache-min-tokens':
        options.promptCache = { minTokens: numberArg(flag, value(), (n) => Number.isInteger(n) && n >= 0) };
        break;
      case '--max-in-flight':
        options.maxInFlight = numberArg(flag, value(), (n) => Number.isInteger(n) && n >= 1);
        break;
      case '--server-kind': {
        const kind = value();
        if (kind !== 'llama.cpp' && kind !== 'ollama') {
          throw new Error(`--server-kind is llama.cpp or ollama, not "${kind ?? ''}"\n${USAGE}`);
        }
        options.serverKind = kind;
        break;
      }
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument "${argv[i]}"\n${USAGE}`);
    }
  }
  return options;
}

async function main(): Promise<void> {
  const sim = await startSimLlm(parseArgs(process.argv.slice(2)));
  console.log(`simulated LLM listening on ${sim.url}`);
  const stop = () => {
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
