import { execFile } from 'node:child_process';

/** What a finished external command produced. */
export interface CommandOutput {
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
  /** Exit code, or `null` when a signal ended it. */
  exitCode: number | null;
}

/** Options for a {@link RunCommand} call. */
export interface RunCommandOptions {
  /** Environment for the child; its PATH is where the command is looked up. */
  env?: NodeJS.ProcessEnv;
  /** Kill the command after this long. */
  timeoutMs: number;
}

/**
 * Runs a program without a shell. Resolves with the output even on a non-zero exit (some CLIs, like
 * `pyrsia`, report errors on stdout with exit 0, so callers judge by text); rejects only when the program could
 * not be started (`code: 'ENOENT'` when it is not on PATH) or ran past the timeout.
 */
export type RunCommand = (file: string, args: readonly string[], options: RunCommandOptions) => Promise<CommandOutput>;

/** The default {@link RunCommand}: `execFile`, no shell, bounded output. */
export const runCommand: RunCommand = (file, args, options) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { env: options.env, timeout: options.timeoutMs, maxBuffer: 1024 * 1024, windowsHide: true, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error && (typeof error.code === 'string' || error.killed)) {
          reject(error);
          return;
        }
        const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ stdout, stderr, exitCode });
      },
    );
  });
