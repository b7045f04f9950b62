/** Runs a command to completion for the provisioning scripts (Temporal CLI, the real-model tier). */
import { execFile } from 'node:child_process';

export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** Runs `file` with `args`, keeping its output; on failure the error's message carries the output's last lines. */
export function runCommand(
  file: string,
  args: string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        timeout: options.timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        windowsHide: true,
        ...(options.env ? { env: options.env } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const output = `${stdout}${stderr}`.trim();
        const tail = output.split('\n').slice(-40).join('\n');
        reject(new Error(tail ? `${err.message.split('\n')[0]}\n${tail}` : err.message));
      },
    );
  });
}
