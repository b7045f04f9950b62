/**
 * Prints the path of a usable Temporal CLI, building or downloading it first if needed (progress goes to stderr).
 * Usage: node dist/scripts/ensure-temporal.js
 */
import { ensureTemporalCli } from '../server/temporal-cli';

async function main(): Promise<void> {
  const cliPath = await ensureTemporalCli({ log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${cliPath}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
