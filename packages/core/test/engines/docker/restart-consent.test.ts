// Asking before a restart, when the daemon cannot list its containers: not knowing what runs is no licence to
// stop it. A stand-in Engine (it answers /_ping, /version and /info, and 404 to the container list) under a
// forced systemd setup; `systemctl` is a fake that only logs, so nothing on this machine is restarted.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { addMirror } from '../../../src/operations/mirrors.js';
import { isolated } from '../../support/hermetic.js';
import { startStandInEngine, type StandInEngine } from './stand-in-engine.js';

let engine: StandInEngine;
let dir: string;
let savedPath: string | undefined;

beforeAll(async () => {
  engine = await startStandInEngine('info-20.10-vfs.json');
  dir = await mkdtemp(path.join(tmpdir(), 'dm-consent-'));
  const bin = path.join(dir, 'bin');
  await writeFile(path.join(dir, 'calls.log'), '');
  await mkdir(bin);
  await writeFile(path.join(bin, 'systemctl'), `#!/bin/sh\necho "systemctl $*" >> ${JSON.stringify(path.join(dir, 'calls.log'))}\n`);
  await chmod(path.join(bin, 'systemctl'), 0o755);
  // The apply step runs systemctl from this process's PATH.
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath ?? ''}`;
});
afterAll(async () => {
  process.env.PATH = savedPath;
  await engine?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a restart when the running containers cannot be listed', () => {
  it('is asked about as one that stops every container, and refused on a no: nothing written, nothing restarted', async () => {
    const file = path.join(dir, 'daemon.json');
    await writeFile(file, '{}\n');
    const questions: string[] = [];
    const options = {
      ...isolated(dir),
      dockerHost: engine.endpoint,
      env: { DOCKMIRROR_SETUP: 'systemd' },
      configFile: file,
      stateDir: path.join(dir, 'state'),
      apply: 'restart' as const,
      confirm: async (question: string) => (questions.push(question), false),
    };
    const error = await addMirror({ ...options, mirror: 'https://m.example' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe('Not applied: a restart would stop every running container (they could not be listed). Nothing was written.');
    expect(questions).toEqual(['Applying needs a restart (systemd service: restart requested) that stops every running container (they could not be listed). Continue?']);
    expect(engine.requests.filter((r) => r.includes('/containers/json'))).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe('{}\n');
    expect((await readFile(path.join(dir, 'calls.log'), 'utf8')).split('\n').filter((l) => l.includes('restart'))).toEqual([]);
  });
});
