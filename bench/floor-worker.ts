/**
 * `node dist/bench/floor-worker.js ADDRESS TASK_QUEUE MAX_CONCURRENT_ACTIVITIES [LLM_BASE_URL]`: the floor bench's
 * worker, a plain Temporal worker with the SDK's defaults and the same activity slots the dataset bench gives
 * `evol worker`. Its one activity waits the call's latency itself or, given LLM_BASE_URL, asks that
 * OpenAI-compatible server (the simulated LLM, which waits instead) through the `openai` client. With
 * FLOOR_METRICS_ADDRESS=IP:PORT it serves the SDK's Prometheus metrics there, as `evol worker` does with
 * EVOL_METRICS_ADDRESS.
 */
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import OpenAI from 'openai';
import type { FloorActivities } from './floor-workflows';

function activitiesFor(llmBaseUrl: string | undefined): FloorActivities {
  if (!llmBaseUrl) {
    return {
      async call(_prompt, latencyMs, replyBytes) {
        await new Promise((resolve) => setTimeout(resolve, latencyMs));
        return 'y'.repeat(replyBytes);
      },
    };
  }
  const openai = new OpenAI({ baseURL: llmBaseUrl, apiKey: 'floor', maxRetries: 0 });
  return {
    async call(prompt) {
      const completion = await openai.chat.completions.create({
        model: 'floor',
        messages: [{ role: 'user', content: prompt }],
      });
      return completion.choices[0]?.message.content ?? '';
    },
  };
}

async function main(): Promise<void> {
  const [address, taskQueue, maxConcurrent, llmBaseUrl] = process.argv.slice(2);
  const bindAddress = process.env.FLOOR_METRICS_ADDRESS;
  if (bindAddress) {
    Runtime.install({
      logger: new DefaultLogger('WARN'),
      telemetryOptions: { metrics: { prometheus: { bindAddress, useSecondsForDurations: false } } },
    });
  }
  const connection = await NativeConnection.connect({ address });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./floor-workflows'),
    logger: new DefaultLogger('ERROR'),
  });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle,
    activities: activitiesFor(llmBaseUrl),
    maxConcurrentActivityTaskExecutions: Number(maxConcurrent),
  });
  process.stdout.write('floor worker polling\n');
  process.once('SIGTERM', () => worker.shutdown());
  await worker.run();
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
