/**
 * Running the built `dockmirror` against a real test daemon (see packages/core/test/support/testbed.ts):
 * DOCKER_HOST points at the testbed's socket, `--config-file` at its daemon.json, and each scenario gets a
 * state folder of its own so rollbacks never reach into another test's journal.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Testbed } from '../../../../packages/core/test/support/testbed.js';
import { cliEnv } from './env.js';

export {
  fakeCalls,
  fakeCommandsDir,
  importSleepImage,
  seedImage,
  startTestbed,
  type Testbed,
} from '../../../../packages/core/test/support/testbed.js';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI. */
export const BIN = path.join(cliDir, 'bin', 'run.js');

/** Throws unless the CLI was built (the tests spawn dist/, not the sources). */
export function assertBuilt(): void {
  if (!existsSync(path.join(cliDir, 'dist', 'commands', 'mirror', 'add.js'))) {
    throw new Error('Build first: npx tsc -p packages/core/tsconfig.json && npx tsc -p apps/cli/tsconfig.json && (cd apps/cli && npx oclif manifest)');
  }
}

/** One finished run of the CLI. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** How to run the CLI against a testbed. */
export interface CliOptions {
  /** Extra environment (DOCKMIRROR_SETUP...). */
  env?: Record<string, string>;
  /** A directory to put first on PATH (the fakes). */
  pathFirst?: string;
  /** The state folder; default `$dir/state`. */
  stateDir?: string;
  /** The endpoint; default the testbed's socket. */
  dockerHost?: string;
  /** The daemon.json to edit; default the one the testbed's dockerd reads. */
  configFile?: string;
}

/** Runs `dockmirror <args> --config-file <testbed daemon.json> --state-dir <state>` with DOCKER_HOST set. */
export async function dockmirror(tb: Testbed, args: string[], options: CliOptions = {}): Promise<CliRun> {
  // A temp home (no host docker context or presets), no DOCKMIRROR_* from the shell.
  const env: NodeJS.ProcessEnv = {
    ...cliEnv(),
    DOCKER_HOST: options.dockerHost ?? tb.dockerHost,
    ...(options.pathFirst ? { PATH: `${options.pathFirst}:${process.env.PATH ?? ''}` } : {}),
    ...options.env,
  };
  const argv = [BIN, ...args, '--config-file', options.configFile ?? tb.configFile, '--state-dir', options.stateDir ?? path.join(tb.dir, 'state')];
  const started = Date.now();
  const run = await new Promise<CliRun>((resolve, reject) => {
    const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
  // No run may end in a stack trace.
  expect(`${run.stdout}\n${run.stderr}`).not.toMatch(/^\s+at .+(:\d+:\d+\)?$|\(node:)/m);
  return run;
}

/** `RegistryConfig` as the real docker CLI shows it. */
export interface LiveConfig {
  mirrors: string[];
  /** Non-official index entries marked insecure (host entries from insecure-registries). */
  insecureHosts: string[];
}

/** The live registry config, read with the real docker CLI (not with dockmirror's own client). */
export async function liveConfig(tb: Testbed): Promise<LiveConfig> {
  const rc = JSON.parse(await tb.docker(['info', '--format', '{{json .RegistryConfig}}'])) as {
    Mirrors: string[] | null;
    IndexConfigs: Record<string, { Secure: boolean; Official: boolean }>;
  };
  const insecureHosts = Object.entries(rc.IndexConfigs ?? {})
    .filter(([, index]) => !index.Secure && !index.Official)
    .map(([name]) => name)
    .sort();
  return { mirrors: rc.Mirrors ?? [], insecureHosts };
}

/**
 * Put the testbed back to "no mirrors live, file = `bytes`": SIGHUP with both keys spelled out as [] (the only
 * way to clear them by reload), wait until /info shows it, then write the wanted bytes.
 */
export async function resetDaemon(tb: Testbed, bytes: string): Promise<void> {
  await writeFile(tb.configFile, '{"registry-mirrors": [], "insecure-registries": []}\n');
  await tb.reload();
  for (let i = 0; ; i++) {
    const live = await liveConfig(tb);
    if (live.mirrors.length === 0 && live.insecureHosts.length === 0) break;
    if (i > 50) throw new Error(`testbed did not clear its mirrors: ${JSON.stringify(live)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await writeFile(tb.configFile, bytes);
}

/** daemon.json's bytes, or `null` when it does not exist. */
export function fileBytes(tb: Testbed): Promise<Buffer | null> {
  return readFile(tb.configFile).catch(() => null);
}

/** State of a container, from `docker inspect`. */
export async function containerState(tb: Testbed, id: string): Promise<{ Running: boolean; Pid: number; StartedAt: string; restartCount: number }> {
  const out = await tb.docker(['inspect', '--format', '{"state":{{json .State}},"restarts":{{.RestartCount}}}', id]);
  const parsed = JSON.parse(out) as { state: { Running: boolean; Pid: number; StartedAt: string }; restarts: number };
  return { ...parsed.state, restartCount: parsed.restarts };
}
