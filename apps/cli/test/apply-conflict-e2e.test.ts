// A real dockerd started with --registry-mirror: writing "registry-mirrors" too would make it refuse its next
// start, so dockmirror refuses before writing, naming the flag and where it comes from.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, dockmirror, fakeCalls, fakeCommandsDir, fileBytes, liveConfig, startTestbed, type Testbed } from './support/daemon-cli.js';

const ORIGINAL = '{\n  "labels": ["dm=conflict"]\n}\n';

let tb: Testbed;

beforeAll(async () => {
  assertBuilt();
  tb = await startTestbed({ daemonJson: ORIGINAL, extraDaemonArgs: ['--registry-mirror', 'http://127.0.0.1:9'] });
});
afterAll(async () => {
  await tb?.stop();
});

async function expectNothingWritten(stateDir: string): Promise<void> {
  expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);
  const backups = await dockmirror(tb, ['backups', '--json'], { stateDir });
  expect((JSON.parse(backups.stdout) as { backups: unknown[] }).backups).toEqual([]);
  // The flag's mirror is what stays live.
  expect((await liveConfig(tb)).mirrors).toEqual(['http://127.0.0.1:9/']);
}

describe('flag conflict', () => {
  it('refuses with exit 5 (plain dockerd), naming the flag and its command line, and writes nothing', async () => {
    const stateDir = path.join(tb.dir, 'state-plain');
    const run = await dockmirror(tb, ['add', 'http://127.0.0.1:5000'], { stateDir });
    expect(run.code).toBe(5);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`dockerd already gets --registry-mirror http://127.0.0.1:9 from dockerd command line (pid ${tb.pid})`);
    expect(run.stderr).toContain('"registry-mirrors" also in daemon.json it would refuse to start. Nothing was written.');
    expect(run.stderr).toContain('Remove --registry-mirror from dockerd command line');
    await expectNothingWritten(stateDir);

    const json = await dockmirror(tb, ['add', 'http://127.0.0.1:5000', '--json'], { stateDir });
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { code: 'FLAG_CONFLICT', details: { conflict: { flag: '--registry-mirror', key: 'registry-mirrors', values: ['http://127.0.0.1:9'] } } },
    });
  });

  it('names the systemd unit the flag comes from, and never reloads', async () => {
    const stateDir = path.join(tb.dir, 'state-systemd');
    const bin = await fakeCommandsDir(tb);
    const run = await dockmirror(tb, ['add', 'http://127.0.0.1:5000'], { stateDir, pathFirst: bin, env: { DOCKMIRROR_SETUP: 'systemd' } });
    expect(run.code).toBe(5);
    // The fake `systemctl cat docker` shows a unit whose ExecStart is the daemon's real command line.
    expect(run.stderr).toContain('--registry-mirror http://127.0.0.1:9 from /lib/systemd/system/docker.service');
    expect(await fakeCalls(tb)).toEqual(['systemctl cat docker']);
    await expectNothingWritten(stateDir);
  });

  it('refuses with --apply none too: not telling the daemon is no reason to write a file it would refuse', async () => {
    const stateDir = path.join(tb.dir, 'state-none');
    const run = await dockmirror(tb, ['add', 'http://127.0.0.1:5000', '--apply', 'none'], { stateDir });
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(`--registry-mirror http://127.0.0.1:9 from dockerd command line (pid ${tb.pid})`);
    await expectNothingWritten(stateDir);
  });

  it('a dry run shows the diff and warns that the real run would refuse', async () => {
    const stateDir = path.join(tb.dir, 'state-dry');
    const run = await dockmirror(tb, ['add', 'http://127.0.0.1:5000', '--dry-run'], { stateDir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('+    "http://127.0.0.1:5000"');
    expect(run.stdout).toContain('A real run would refuse this: dockerd already gets --registry-mirror http://127.0.0.1:9');
    await expectNothingWritten(stateDir);
  });

  it('status shows the conflict', async () => {
    const run = await dockmirror(tb, ['status'], { stateDir: path.join(tb.dir, 'state-status') });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`✗ flag conflict: --registry-mirror http://127.0.0.1:9 from dockerd command line (pid ${tb.pid})`);
    expect(run.stdout).toContain('live: http://127.0.0.1:9/');
  });
});
