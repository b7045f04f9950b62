/**
 * Prints the path of a usable SeaweedFS `weed` (the S3-compatible server the tests run the S3 run store against),
 * building it with Go into the cache first if needed (progress goes to stderr). Usage: node dist/scripts/ensure-s3.js
 */
import { ensureSeaweedFs } from '../server/seaweedfs';

async function main(): Promise<void> {
  const weedPath = await ensureSeaweedFs({ log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${weedPath}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
