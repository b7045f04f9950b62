/** A worker serves the Temporal SDK's Prometheus metrics where EVOL_METRICS_ADDRESS says. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addHistograms } from '../bench/prometheus';
import { startSingleInstruction } from '../client/api';
import { findFreePorts } from '../server/dev-server';
import { startSimLlm } from '../sim/llm-server';
import { connectClient, eventually, llmAt, testAddress, uniqueTaskQueue } from './helpers/temporal';
import { runCli, startWorkerProcess } from './helpers/worker-process';

describe('EVOL_METRICS_ADDRESS', () => {
  test("a worker serves its workflow tasks' and its server calls' latencies for Prometheus", async () => {
    const [port] = await findFreePorts(1);
    const sim = await startSimLlm();
    const taskQueue = uniqueTaskQueue('metrics');
    const worker = await startWorkerProcess({
      address: testAddress(),
      taskQueue,
      env: { EVOL_METRICS_ADDRESS: `127.0.0.1:${port}`, EVOL_TEST_API_KEY: 'k' },
    });
    const { client, connection } = await connectClient();
    try {
      const handle = await startSingleInstruction(client, taskQueue, {
        runId: `metrics-${Date.now().toString(36)}`,
        instructionId: 'm1',
        instruction: 'Explain why the sky is blue.',
        rounds: 1,
        seed: 1,
        llm: llmAt(sim.url),
      });
      await handle.result();
      const metrics = await eventually(async () => {
        const histograms = addHistograms(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
        const tasks = histograms.get('temporal_workflow_task_execution_latency{singleInstructionEvolution}');
        const replies = histograms.get('temporal_request_latency{RespondWorkflowTaskCompleted}');
        return tasks?.count && replies?.count ? { tasks, replies } : undefined;
      }, 'the workflow task and server call histograms');
      expect(metrics.tasks.sum).toBeGreaterThan(0);
      expect(metrics.replies.count).toBeGreaterThanOrEqual(metrics.tasks.count);
    } finally {
      await worker.kill('SIGTERM');
      await connection.close();
      await sim.close();
    }
  });

  test('a value that is not an IP address and port stops the worker with a message that names the variable', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-metrics-'));
    const result = await runCli(['worker', '--task-queue', uniqueTaskQueue('metrics-bad')], {
      cwd: dataDir,
      env: { TEMPORAL_ADDRESS: testAddress(), EVOL_METRICS_ADDRESS: 'localhost:9464', EVOL_DATA_DIR: dataDir },
      timeoutMs: 60_000,
    });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(
      'EVOL_METRICS_ADDRESS must be an IP address and port (e.g. 127.0.0.1:9464, or 0.0.0.0:9464 for every interface), not "localhost:9464"',
    );
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
});
