/**
 * `evol server`: runs the embedded Temporal dev server in the foreground until Ctrl-C.
 */
import path from 'node:path';
import { startDevServer, type DevServer, type DevServerOptions } from './dev-server';
import { ensureTemporalCli, TEMPORAL_CLI_VERSION, TEMPORAL_SERVER_VERSION } from './temporal-cli';

export interface RunServerOptions extends Omit<DevServerOptions, 'cliPath' | 'detached' | 'log'> {
  /** Where the summary and progress go. Default: stdout. */
  print?: (line: string) => void;
}

export async function runServer(options: RunServerOptions = {}): Promise<void> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const cliPath = await ensureTemporalCli({ log: print });
  // Detached, so Ctrl-C reaches only us and we stop the server in order, instead of racing its own shutdown.
  const server = await startDevServer({ ...options, cliPath, detached: true, log: print });

  const dataDir = path.resolve(options.dataDir ?? '.evolforge');
  if (server.reused) {
    print(`Reusing the Temporal server already running at ${server.address}; it was not started here and keeps`);
    print('running after this command exits.');
  } else {
    print(`Temporal dev server (CLI ${TEMPORAL_CLI_VERSION}, Server ${TEMPORAL_SERVER_VERSION}) is running.`);
  }
  print(`  Address:   ${server.address}`);
  print(`  Namespace: ${server.namespace}`);
  const noUi = options.headless ? 'none (headless)' : 'none answering on the UI port';
  print(`  Web UI:    ${server.uiUrl ?? noUi}`);
  if (!server.reused) print(`  Data dir:  ${dataDir} (temporal.sqlite, temporal-server.log)`);
  print('Press Ctrl-C to stop.');

  const outcome = await untilSignalOrExit(server);
  if (outcome === 'exited') {
    throw new Error(`The Temporal dev server exited unexpectedly; see ${server.logFile} for why.`);
  }
  if (!server.reused) {
    print('Stopping the Temporal dev server...');
    await server.stop();
    print('Stopped.');
  }
}

function untilSignalOrExit(server: DevServer): Promise<'signal' | 'exited'> {
  return new Promise((resolve) => {
    // Nothing else keeps the event loop alive: a detached server is unref'd, and a reused one is not ours.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const finish = (outcome: 'signal' | 'exited') => {
      clearInterval(keepAlive);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(outcome);
    };
    const onSignal = () => finish('signal');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    void server.exited?.then(() => finish('exited'));
  });
}
