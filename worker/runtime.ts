/** The Temporal runtime for EvolForge's processes: warnings and errors only, so the CLI's own output stays readable. */
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

export function installQuietRuntime(level: LogLevel = (process.env.EVOL_LOG_LEVEL as LogLevel) || 'WARN'): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new DefaultLogger(level),
    telemetryOptions: {
      logging: {
        filter: { core: level === 'DEBUG' || level === 'TRACE' ? level : 'ERROR', other: 'ERROR' },
        forward: {},
      },
    },
  });
}
