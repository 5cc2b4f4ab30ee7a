// CRI-O rereads registries.conf on SIGHUP. No CRI-O runs here, so stand-ins named crio (`exec -a crio sleep`,
// which SIGHUP ends) show which process got the signal: root's crio does, another user's never does, and
// --apply none signals nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMirror, removeMirror } from '../../../src/operations/mirrors.js';
import { isolated } from '../../support/hermetic.js';

let dir: string;
let file: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-crio-'));
  file = path.join(dir, 'registries.conf');
  await writeFile(file, '# mine\n');
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** A process whose argv[0] is crio, as root or as nobody; resolves once /proc shows it so. */
async function fakeCrio(asNobody: boolean): Promise<{ child: ChildProcess; ended: Promise<NodeJS.Signals | null> }> {
  const argv = ['bash', '-c', 'exec -a crio sleep 600'];
  const child = asNobody ? spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv], { stdio: 'ignore' }) : spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  children.push(child);
  const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  for (let i = 0; i < 200; i++) {
    const cmdline = await readFile(`/proc/${child.pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('crio\0')) return { child, ended };
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the stand-in crio did not start');
}

const opts = (extra: object = {}) => ({ ...isolated(dir), engine: 'podman' as const, configFile: file, stateDir: path.join(dir, 'state'), rootDir: dir, ...extra });

describe('CRI-O', () => {
  it('--apply none tells no CRI-O, and says how to', async () => {
    const root = await fakeCrio(false);
    const result = await addMirror(opts({ mirror: 'http://127.0.0.1:5000', apply: 'none' }));
    expect(result.apply.method).toBe('none');
    expect(result.apply.reason).toContain(`CRI-O (pid ${root.child.pid}) rereads it on SIGHUP: run kill -HUP ${root.child.pid}`);
    expect(root.child.exitCode === null && root.child.signalCode === null).toBe(true);
    root.child.kill('SIGKILL');
    await root.ended;
  });

  it('root\'s crio gets SIGHUP after the write; another user\'s crio is passed over and named', async () => {
    const root = await fakeCrio(false);
    const theirs = await fakeCrio(true);
    const result = await removeMirror(opts({ mirror: 'http://127.0.0.1:5000', apply: 'auto' }));
    expect(result.changed).toBe(true);
    expect(await root.ended).toBe('SIGHUP');
    expect(result.apply.method).toBe('reload');
    expect(result.apply.reason).toContain(`Sent SIGHUP to CRI-O (pid ${root.child.pid})`);
    expect(result.apply.reason).toContain('not confirmed live');
    expect(result.apply.reason).toContain(`Passed over crio pid ${theirs.child.pid}: it runs as uid 65534`);
    expect(theirs.child.exitCode === null && theirs.child.signalCode === null).toBe(true);
  });
});
