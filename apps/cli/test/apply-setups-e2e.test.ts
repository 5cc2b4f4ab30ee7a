// Every setup's apply branch, through the built CLI: DOCKMIRROR_SETUP picks the setup, and the fake service
// managers (first on PATH) record their argv and reload or restart the real test dockerd, so the live config
// read back from /info proves each branch really applied the change, and its rollback.
import { rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  containerState,
  dockmirror,
  fakeCalls,
  fakeCommandsDir,
  fileBytes,
  importSleepImage,
  liveConfig,
  resetDaemon,
  startTestbed,
  type CliRun,
  type Testbed,
} from './support/daemon-cli.js';

const ORIGINAL = '{\n  "labels": ["dm=setups"]\n}\n';
const MIRROR = 'http://127.0.0.1:9';
const LIVE = { mirrors: [`${MIRROR}/`], insecureHosts: ['127.0.0.1:9'] };
const NONE = { mirrors: [], insecureHosts: [] };

let tb: Testbed;
let fakes: string;
let n = 0;

beforeAll(async () => {
  assertBuilt();
  tb = await startTestbed({ daemonJson: ORIGINAL });
  fakes = await fakeCommandsDir(tb);
  await importSleepImage(tb, 'dm-sleep:1');
});
afterAll(async () => {
  await tb?.stop();
});

/** A running `sleep` container; SIGKILL as its stop signal so a restart does not wait 10 s for it. */
async function runContainer(name: string): Promise<string> {
  return (await tb.docker(['run', '-d', '--network', 'none', '--stop-signal', 'SIGKILL', '--name', name, 'dm-sleep:1'])).trim();
}

/** A fresh scenario: no mirror live, the original bytes, an empty call log and a state folder of its own. */
async function fresh(): Promise<{ run: (setup: string, args: string[], dockerHost?: string) => Promise<CliRun> }> {
  await resetDaemon(tb, ORIGINAL);
  await rm(path.join(tb.dir, 'fake-calls.log'), { force: true });
  const stateDir = path.join(tb.dir, `state-${++n}`);
  return {
    run: (setup, args, dockerHost) =>
      dockmirror(tb, args, { stateDir, pathFirst: fakes, env: { DOCKMIRROR_SETUP: setup }, ...(dockerHost ? { dockerHost } : {}) }),
  };
}

/** add, then rollback, each expected to run `calls` (cumulative log) and to leave the matching live config. */
async function addAndRollBack(setup: string, extra: string[], callsAfterAdd: string[], callsAfterRollback: string[]): Promise<CliRun> {
  const { run } = await fresh();
  const add = await run(setup, ['add', MIRROR, ...extra]);
  expect(add.stderr).toBe('');
  expect(add.code).toBe(0);
  expect(await fakeCalls(tb)).toEqual(callsAfterAdd);
  expect(await liveConfig(tb)).toEqual(LIVE);
  const back = await run(setup, ['rollback', ...extra]);
  expect(back.stderr).toBe('');
  expect(back.code).toBe(0);
  expect(await fakeCalls(tb)).toEqual(callsAfterRollback);
  expect(await liveConfig(tb)).toEqual(NONE);
  expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);
  return add;
}

describe('service managers that can reload', () => {
  it('systemd: systemctl reload docker (after systemctl cat docker for flag conflicts)', async () => {
    const pid = tb.pid;
    const add = await addAndRollBack('systemd', [], ['systemctl cat docker', 'systemctl reload docker'], [
      'systemctl cat docker',
      'systemctl reload docker',
      'systemctl cat docker',
      'systemctl reload docker',
    ]);
    expect(add.stdout).toContain('daemon reloaded (systemd service: reload sends SIGHUP to dockerd)');
    expect(tb.pid).toBe(pid);
  });

  it('rootless: systemctl --user reload docker', async () => {
    const add = await addAndRollBack('rootless', [], ['systemctl --user cat docker', 'systemctl --user reload docker'], [
      'systemctl --user cat docker',
      'systemctl --user reload docker',
      'systemctl --user cat docker',
      'systemctl --user reload docker',
    ]);
    expect(add.stdout).toContain('daemon reloaded (rootless user service');
  });

  it('openrc: rc-service docker reload', async () => {
    await addAndRollBack('openrc', [], ['rc-service docker reload'], ['rc-service docker reload', 'rc-service docker reload']);
  });
});

describe('snap and sysvinit: SIGHUP when dockerd is visible, else their restart', () => {
  for (const [setup, restart] of [
    ['snap', 'snap restart docker'],
    ['sysvinit', 'service docker restart'],
  ] as const) {
    it(`${setup}: auto sends SIGHUP to the dockerd pid, no service command`, async () => {
      const pid = tb.pid;
      const add = await addAndRollBack(setup, [], [], []);
      expect(add.stdout).toContain(`daemon reloaded (${setup}: no reload verb, so SIGHUP to dockerd (pid ${pid}))`);
      expect(tb.pid).toBe(pid);
    });

    it(`${setup}: --apply restart runs ${restart}`, async () => {
      const pid = tb.pid;
      const add = await addAndRollBack(setup, ['--apply', 'restart'], [restart], [restart, restart]);
      expect(add.stdout).toContain(`daemon restarted (${setup}: restart requested)`);
      expect(tb.pid).not.toBe(pid);
    });

    it(`${setup}: auto runs ${restart} when the dockerd process is not visible`, async () => {
      // The same daemon through a symlinked socket: no dockerd serves that path, so the process is not found.
      const alias = path.join(tb.dir, `alias-${setup}.sock`);
      await symlink(tb.socket, alias);
      const { run } = await fresh();
      const add = await run(setup, ['add', MIRROR], `unix://${alias}`);
      expect(add.code).toBe(0);
      expect(add.stdout).toContain(`daemon restarted (${setup}: dockerd not visible, so restart)`);
      expect(await fakeCalls(tb)).toEqual([restart]);
      expect(await liveConfig(tb)).toEqual(LIVE);
    });
  }
});

describe('setups that can only restart', () => {
  it('desktop: docker desktop restart stops containers, so it needs --yes without a TTY', async () => {
    const { run } = await fresh();
    const id = await runContainer('dm-desktop');
    try {
      const refused = await run('desktop', ['add', MIRROR]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('Not applied: a restart would stop 1 running container(s): dm-desktop. Nothing was written.');
      expect(refused.stderr).toContain('--yes');
      expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);
      expect(await fakeCalls(tb)).toEqual([]);
      expect((await containerState(tb, id)).Running).toBe(true);

      const add = await run('desktop', ['add', MIRROR, '--yes']);
      expect(add.stderr).toBe('');
      expect(add.code).toBe(0);
      expect(add.stdout).toContain('daemon restarted (Docker Desktop applies daemon.json only by restarting');
      expect(await fakeCalls(tb)).toEqual(['docker desktop restart']);
      expect(await liveConfig(tb)).toEqual(LIVE);
      expect((await containerState(tb, id)).Running).toBe(false);

      // Nothing runs now, so nothing needs agreeing to.
      const back = await run('desktop', ['rollback']);
      expect(back.code).toBe(0);
      expect(await fakeCalls(tb)).toEqual(['docker desktop restart', 'docker desktop restart']);
      expect(await liveConfig(tb)).toEqual(NONE);
      expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);
    } finally {
      await tb.docker(['rm', '-f', id]);
    }
  });

  it('desktop: --apply reload is refused before writing', async () => {
    const { run } = await fresh();
    const refused = await run('desktop', ['add', MIRROR, '--apply', 'reload']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Cannot reload this Docker daemon (setup: desktop)');
    expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);
  });

  it('windows-engine: powershell Restart-Service docker', async () => {
    const add = await addAndRollBack('windows-engine', [], ['powershell -NoProfile -Command Restart-Service docker'], [
      'powershell -NoProfile -Command Restart-Service docker',
      'powershell -NoProfile -Command Restart-Service docker',
    ]);
    expect(add.stdout).toContain('daemon restarted (Windows service: restart is the only way)');
  });

  it('systemd --apply restart without live-restore asks too, and --yes restarts', async () => {
    const { run } = await fresh();
    const id = await runContainer('dm-systemd');
    try {
      const refused = await run('systemd', ['add', MIRROR, '--apply', 'restart']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('a restart would stop 1 running container(s): dm-systemd');
      expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);
      expect(await fakeCalls(tb)).toEqual(['systemctl cat docker']);

      const add = await run('systemd', ['add', MIRROR, '--apply', 'restart', '--yes']);
      expect(add.code).toBe(0);
      expect((await fakeCalls(tb)).at(-1)).toBe('systemctl restart docker');
      expect(await liveConfig(tb)).toEqual(LIVE);
      expect((await containerState(tb, id)).Running).toBe(false);
    } finally {
      await tb.docker(['rm', '-f', id]);
    }
  });
});

describe('a setup dockmirror cannot tell how to apply to', () => {
  it('unknown: refused with exit 2 before writing, pointing at DOCKMIRROR_SETUP', async () => {
    const { run } = await fresh();
    const refused = await run('unknown', ['add', MIRROR]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('how it is run could not be detected');
    expect(refused.stderr).toContain('DOCKMIRROR_SETUP');
    expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);
  });
});
