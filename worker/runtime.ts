/** The Temporal runtime for EvolForge's processes: warnings and errors only, so the CLI's own output stays readable. */
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

/**
 * @param handleSignals whether the runtime shuts workers down on SIGINT/SIGTERM itself; commands that
 * follow a run handle Ctrl-C on their own, so they pass false.
 */
export function installQuietRuntime(
  handleSignals = true,
  level: LogLevel = (process.env.EVOL_LOG_LEVEL as LogLevel) || 'WARN',
): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    ...(handleSignals ? {} : { shutdownSignals: [] }),
    logger: new DefaultLogger(level),
    telemetryOptions: {
      logging: {
        filter: { core: level === 'DEBUG' || level === 'TRACE' ? level : 'ERROR', other: 'ERROR' },
        forward: {},
      },
    },
  });
}
