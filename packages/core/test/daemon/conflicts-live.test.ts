// A real dockerd started with registry flags: the conflict must be found before daemon.json gets the same key.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFlagConflicts } from '../../src/daemon/conflicts.js';
import { confirmLive } from '../../src/daemon/confirm.js';
import { createEngine } from '../../src/daemon/engine.js';
import { detectSetup } from '../../src/daemon/setup.js';
import { fakeCommandsDir, startTestbed, type Testbed } from '../support/testbed.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { isolated } from '../support/hermetic.js';
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

let tb: Testbed;

beforeAll(async () => {
  tb = await startTestbed({
    extraDaemonArgs: ['--registry-mirror', 'http://127.0.0.1:7', '--insecure-registry=flag.test:5000'],
  });
});
afterAll(async () => {
  await tb?.stop();
});

describe('flag conflicts on a real dockerd', () => {
  it('finds both registry flags on the live command line', async () => {
    const setup = await detectSetup({ endpoint: tb.dockerHost, env: {} });
    expect(setup.kind).toBe('plain');
    expect(await findFlagConflicts(setup)).toEqual([
      { flag: '--registry-mirror', key: 'registry-mirrors', values: ['http://127.0.0.1:7'], source: `dockerd command line (pid ${tb.pid})` },
      { flag: '--insecure-registry', key: 'insecure-registries', values: ['flag.test:5000'], source: `dockerd command line (pid ${tb.pid})` },
    ]);
  });

  it('names the unit file under (fake) systemd, from `systemctl cat docker`', async () => {
    const bin = await fakeCommandsDir(tb);
    const setup = await detectSetup({ endpoint: tb.dockerHost, env: { DOCKMIRROR_SETUP: 'systemd' } });
    const systemctlCat = async () =>
      (await promisify(execFile)(join(bin, 'systemctl'), ['cat', 'docker'])).stdout;
    const conflicts = await findFlagConflicts(setup, { systemctlCat });
    expect(conflicts.map((c) => c.source)).toEqual(['/lib/systemd/system/docker.service', '/lib/systemd/system/docker.service']);
  });

  it('a dry run says the real run would refuse, and a real run refuses before writing', async () => {
    const before = '{"debug": false}\n';
    await writeFile(tb.configFile, before);
    const options = { ...isolated(tb.dir), dockerHost: tb.dockerHost, configFile: tb.configFile, stateDir: join(tb.dir, 'dm-state'), mirror: 'http://127.0.0.1:9' };
    const dry = await addMirror({ ...options, dryRun: true });
    expect(dry.changed).toBe(true);
    expect(dry.warnings).toEqual([expect.stringMatching(/^A real run would refuse this: .*--registry-mirror/)]);
    expect(await readFile(tb.configFile, 'utf8')).toBe(before);
    await expect(addMirror(options)).rejects.toMatchObject({ code: 'FLAG_CONFLICT' });
    expect(await readFile(tb.configFile, 'utf8')).toBe(before);
  });

  it('shows why: a reload with the same key in the file is rejected and only logged', async () => {
    await writeFile(tb.configFile, '{"registry-mirrors": ["http://127.0.0.1:8"]}\n');
    await tb.reload();
    const engine = createEngine(tb.dockerHost);
    const result = await confirmLive(engine, { mirrors: ['http://127.0.0.1:8'] }, 1_000);
    expect(result.ok).toBe(false);
    expect(result.live?.mirrors).toEqual(['http://127.0.0.1:7/']);
  });
});
