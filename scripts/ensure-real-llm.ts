/**
 * Provisions the real-model test tier (SmolLM2-135M-Instruct served by llama-cpp-python) into its cache, or finds it
 * there, and prints the model's path. Progress goes to stderr. Usage: node dist/scripts/ensure-real-llm.js
 */
import { ensureRealLlm } from '../server/real-llm';

async function main(): Promise<void> {
  const files = await ensureRealLlm({ log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${files.model}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
