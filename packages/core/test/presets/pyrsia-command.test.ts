// `pyrsia config --show` as a real program that misbehaves: one that hangs inside a wrapper script is killed with
// everything it started once the timeout passes (no process is left behind), and one that fails has its own
// error shown, not "printed no host or port".
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveMirrorTarget } from '../../src/presets/index.js';
import { runCommand } from '../../src/presets/run-command.js';

let dir = '';
let bin = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-pyrsia-cmd-'));
  bin = path.join(dir, 'bin');
  await mkdir(bin);
});
const started: number[] = [];
afterEach(async () => {
  // Only if the test failed are they still there: stop them by pid, never by name.
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  await rm(dir, { recursive: true, force: true });
});

const options = () => ({ platform: 'linux' as const, env: { PATH: bin }, homedir: path.join(dir, 'home'), presetsFile: path.join(dir, 'none.json') });

/** Whether `pid` still runs (a zombie waiting for its parent counts as gone). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/^\d+ \(.*\) Z /.test(stat);
}

/** Waits (at most 5 s) until none of `pids` runs; returns those still running. */
async function survivors(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 50; i++) {
    const left = (await Promise.all(pids.map(async (pid) => ((await running(pid)) ? pid : undefined)))).filter((p) => p !== undefined);
    if (left.length === 0) return [];
    await new Promise((r) => setTimeout(r, 100));
  }
  return (await Promise.all(pids.map(async (pid) => ((await running(pid)) ? pid : undefined)))).filter((p) => p !== undefined);
}

/** A `pyrsia` wrapper script that starts the real work in a child and waits for it forever. */
async function hangingWrapper(): Promise<string> {
  const pids = path.join(dir, 'pids');
  await writeFile(path.join(bin, 'pyrsia'), `#!/bin/sh\n/bin/sleep 300 &\necho $! $$ > '${pids}'\nwait\n`, { mode: 0o755 });
  return pids;
}

async function pidsIn(file: string): Promise<number[]> {
  for (let i = 0; i < 50 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 20));
  const pids = (await readFile(file, 'utf8')).trim().split(' ').map(Number);
  started.push(...pids);
  return pids;
}

describe('a pyrsia that hangs', () => {
  it('is killed at the timeout together with the child it started', async () => {
    const pidsFile = await hangingWrapper();
    const pending = runCommand('pyrsia', ['config', '--show'], { env: { PATH: bin }, timeoutMs: 400 });
    const pids = await pidsIn(pidsFile);
    expect(await running(pids[0]!)).toBe(true);
    const error = (await pending.then(() => undefined, (e: unknown) => e)) as NodeJS.ErrnoException;
    expect(error.code).toBe('ETIMEDOUT');
    expect(error.message).toBe('pyrsia did not finish within 400 ms and was stopped');
    expect(await survivors(pids)).toEqual([]);
  });

  it('the pyrsia preset says it was stopped, and falls back to the defaults', async () => {
    const pidsFile = await hangingWrapper();
    const pending = resolveMirrorTarget('pyrsia', options());
    const pids = await pidsIn(pidsFile);
    const target = await pending;
    expect(target.url).toBe('http://127.0.0.1:7888');
    expect(target.reasons[0]).toBe('pyrsia config --show did not finish within 3000 ms and was stopped');
    expect(await survivors(pids)).toEqual([]);
  });
});

describe('a pyrsia that fails', () => {
  it('shows its own error line and exit code', async () => {
    await writeFile(path.join(bin, 'pyrsia'), '#!/bin/sh\necho "Error: could not reach the node at 127.0.0.1:7888" >&2\nexit 3\n', { mode: 0o755 });
    const target = await resolveMirrorTarget('pyrsia', options());
    expect(target.reasons[0]).toBe('pyrsia config --show failed (exit 3): Error: could not reach the node at 127.0.0.1:7888');
    expect(target.url).toBe('http://127.0.0.1:7888');
  });

  it('exit 0 with only an error on stderr: says so, with the line', async () => {
    await writeFile(path.join(bin, 'pyrsia'), '#!/bin/sh\necho "warning: config is locked" >&2\n', { mode: 0o755 });
    const target = await resolveMirrorTarget('pyrsia', options());
    expect(target.reasons[0]).toBe('pyrsia config --show printed no host or port, and said: warning: config is locked');
  });

  it('exit 0 and nothing at all: printed no host or port', async () => {
    await writeFile(path.join(bin, 'pyrsia'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    expect((await resolveMirrorTarget('pyrsia', options())).reasons[0]).toBe('pyrsia config --show printed no host or port');
  });
});
