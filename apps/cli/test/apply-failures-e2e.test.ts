// The apply step failing after the write, against a real dockerd: a daemon that stops answering and a service
// manager that fails. Either way daemon.json gets its old bytes back, the daemon ends up on the old config,
// and the CLI exits 5 saying what happened and where the log is.
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  dockmirror,
  fakeCalls,
  fakeCommandsDir,
  fileBytes,
  liveConfig,
  resetDaemon,
  startTestbed,
  type Testbed,
} from './support/daemon-cli.js';

const ORIGINAL = '{\n  "labels": ["dm=failures"]\n}\n';
const WITH_MIRROR = '{\n  "labels": ["dm=failures"],\n  "registry-mirrors": ["http://127.0.0.1:7"]\n}\n';

let tb: Testbed;

beforeAll(async () => {
  assertBuilt();
  tb = await startTestbed({ daemonJson: ORIGINAL });
});
afterAll(async () => {
  // A frozen daemon cannot be stopped with SIGTERM.
  try {
    process.kill(tb.pid, 'SIGCONT');
  } catch {
    // Gone already.
  }
  await tb?.stop();
});

/** A `systemctl` in `$dir/<name>` whose `reload docker` runs `action` (bash) instead of reloading. */
async function systemctlThat(name: string, action: string): Promise<string> {
  const bin = path.join(tb.dir, name);
  await mkdir(bin, { recursive: true });
  const script = `#!/bin/bash
echo "systemctl $*" >>${JSON.stringify(path.join(tb.dir, `${name}.log`))}
case "$*" in
  *reload*docker*) ${action} ;;
  *cat*docker*) printf '# /lib/systemd/system/docker.service\\n[Service]\\nExecStart=/usr/bin/dockerd -H fd://\\n' ;;
esac
`;
  await writeFile(path.join(bin, 'systemctl'), script);
  await chmod(path.join(bin, 'systemctl'), 0o755);
  return bin;
}

/**
 * A `systemctl` whose `reload docker` freezes the test dockerd with SIGSTOP instead of reloading it: the
 * daemon stays up but answers nothing, which is what a wedged daemon looks like from the API.
 */
function freezingSystemctl(): Promise<string> {
  return systemctlThat('freezebin', `kill -STOP "$(cat ${JSON.stringify(tb.pidFile)})"`);
}

describe('a daemon that stops answering after the reload', () => {
  it('exits 5 naming what happened and the log, restores the bytes, and the daemon keeps its old config', async () => {
    await resetDaemon(tb, WITH_MIRROR);
    await tb.reload();
    await expect.poll(() => liveConfig(tb).then((l) => l.mirrors), { timeout: 5_000 }).toEqual(['http://127.0.0.1:7/']);
    const bin = await freezingSystemctl();
    const pid = tb.pid;
    let run;
    try {
      run = await dockmirror(tb, ['add', 'http://127.0.0.1:8', '--timeout', '3'], {
        pathFirst: bin,
        env: { DOCKMIRROR_SETUP: 'systemd' },
        stateDir: path.join(tb.dir, 'state-freeze'),
      });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(run.code).toBe(5);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`did not answer /_ping within 3000 ms`);
    expect(run.stderr).toContain(tb.dockerHost);
    // It told the daemon again about the old file, and says that the daemon did not answer then either.
    expect(run.stderr).toContain(`${tb.configFile} was restored to its previous bytes, but the daemon did not take them either`);
    expect(run.stderr).toContain('check that Docker is running');
    expect(run.stderr).toContain("Look at the daemon's log: journalctl -u docker.service");
    expect((await fileBytes(tb))!.toString()).toBe(WITH_MIRROR);
    // Thawed, the daemon answers again with the config it had before: the new mirror never went live.
    expect(await liveConfig(tb)).toEqual({ mirrors: ['http://127.0.0.1:7/'], insecureHosts: [] });
    expect(tb.pid).toBe(pid);
  });
});

describe('a reload that exits 0 but changes nothing', () => {
  it('exits 5 saying what the daemon shows, restores the bytes, and confirms the daemon is back on them', async () => {
    await resetDaemon(tb, WITH_MIRROR);
    await tb.reload();
    await expect.poll(() => liveConfig(tb).then((l) => l.mirrors), { timeout: 5_000 }).toEqual(['http://127.0.0.1:7/']);
    // What a reload dockerd rejected looks like from outside: `systemctl reload` exits 0, the config stays old.
    const bin = await systemctlThat('noopbin', 'exit 0');
    const run = await dockmirror(tb, ['add', 'http://127.0.0.1:8', '--timeout', '2'], {
      pathFirst: bin,
      env: { DOCKMIRROR_SETUP: 'systemd' },
      stateDir: path.join(tb.dir, 'state-noop'),
    });
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(
      'The Docker daemon did not take the change: mirrors: daemon has [http://127.0.0.1:7/], file asks for [http://127.0.0.1:8, http://127.0.0.1:7].',
    );
    expect(run.stderr).toContain(`${tb.configFile} was restored to its previous bytes, and the daemon is confirmed back on them.`);
    expect(run.stderr).toContain("Look at the daemon's log: journalctl -u docker.service");
    expect((await fileBytes(tb))!.toString()).toBe(WITH_MIRROR);
    expect(await liveConfig(tb)).toEqual({ mirrors: ['http://127.0.0.1:7/'], insecureHosts: [] });
    const backups = await dockmirror(tb, ['backups', '--json'], { stateDir: path.join(tb.dir, 'state-noop') });
    expect((JSON.parse(backups.stdout) as { backups: unknown[] }).backups).toEqual([]);
  });
});

describe('a service manager that fails', () => {
  it('exits 5 with the command and its stderr, restores the bytes, and leaves the live config alone', async () => {
    await resetDaemon(tb, WITH_MIRROR);
    await tb.reload();
    await expect.poll(() => liveConfig(tb).then((l) => l.mirrors), { timeout: 5_000 }).toEqual(['http://127.0.0.1:7/']);
    const bin = await fakeCommandsDir(tb);
    await writeFile(path.join(tb.dir, 'fake-fail'), 'Job for docker.service failed.\n');
    try {
      const run = await dockmirror(tb, ['add', 'http://127.0.0.1:8', '--timeout', '3'], {
        pathFirst: bin,
        env: { DOCKMIRROR_SETUP: 'systemd' },
        stateDir: path.join(tb.dir, 'state-fail'),
      });
      expect(run.code).toBe(5);
      expect(run.stderr).toContain('`systemctl reload docker` failed (exit 1): Job for docker.service failed.');
      expect(run.stderr).toContain(`${tb.configFile} was restored to its previous bytes`);
      expect(run.stderr).toContain("Look at the daemon's log: journalctl -u docker.service");
      expect((await fakeCalls(tb)).filter((c) => c.includes('reload'))).not.toHaveLength(0);
    } finally {
      await rm(path.join(tb.dir, 'fake-fail'));
    }
    expect((await fileBytes(tb))!.toString()).toBe(WITH_MIRROR);
    expect((await liveConfig(tb)).mirrors).toEqual(['http://127.0.0.1:7/']);
  });
});
