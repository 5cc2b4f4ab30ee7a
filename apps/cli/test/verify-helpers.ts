import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cliEnv } from './support/env.js';

// Spawns the built binary: build first (npx tsc -p packages/core && npx tsc -p apps/cli && oclif manifest).
export const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url));

/** One finished run of the CLI. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `dockmirror <args>` with a temp home, no DOCKMIRROR_* or Docker setting from the shell, no colour, and
 * `env` on top. A run still going
 * after 50 s (below the 60 s test timeout) is killed, so a hang fails its test with the output so far.
 */
export function dockmirror(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'], timeout: 50_000, killSignal: 'SIGKILL' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** The check lines (`✓ api ...`, `✗ image ...`, `- pull ...`) of a human verify report, by check name. */
export function checkLines(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of stdout.matchAll(/^ {2}([✓✗-]) (config|live|api|image|pull)\s+(.*)$/gm)) out[m[2]!] = `${m[1]} ${m[3]}`;
  return out;
}

export { seedImage, startTestbed, type Testbed } from '../../../packages/core/test/support/testbed.js';
export { startPyrsiaNode, writeFakePyrsiaCli, type PyrsiaNode } from '../../../packages/core/test/support/pyrsia-node.js';
export { freePort } from '../../../packages/core/test/support/registry.js';
