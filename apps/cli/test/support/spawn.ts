/** Running a program for a test and collecting what it printed: the one way the CLI tests spawn processes. */
import { spawn, type SpawnOptions } from 'node:child_process';

/** One finished run. */
export interface Run {
  /** Exit code, or `null` when a signal ended it. */
  code: number | null;
  /** All of standard output. */
  stdout: string;
  /** All of standard error. */
  stderr: string;
}

/** Runs `command args` with stdin closed and resolves when it has ended. */
export function spawnRun(command: string, args: readonly string[], options: Pick<SpawnOptions, 'env' | 'cwd'> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
