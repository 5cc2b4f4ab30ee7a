// The built CLI against a real dockerd 20.10 and a real docker-registry: add, reload, prove it live, pull
// through the mirror without internet, roll back to the exact bytes and the old live config.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  containerState,
  dockmirror,
  fileBytes,
  importSleepImage,
  liveConfig,
  resetDaemon,
  seedImage,
  startTestbed,
  type Testbed,
} from './support/daemon-cli.js';

// No registry-mirrors or insecure-registries key at all, odd indentation: rollback must give back these bytes
// and still leave the daemon without mirrors.
const ORIGINAL = '{\n    "labels": ["dm=e2e"]\n}\n';

let tb: Testbed;
let mirror: string;
let digest: string;
let hostPort: string;

beforeAll(async () => {
  assertBuilt();
  tb = await startTestbed({ registry: true, daemonJson: ORIGINAL });
  mirror = tb.registryUrl!;
  hostPort = `127.0.0.1:${tb.registryPort}`;
  digest = await seedImage(tb, 'alpine:3.16.2');
  await importSleepImage(tb, 'dm-sleep:1');
});
afterAll(async () => {
  await tb?.stop();
});

const state = (name: string) => ({ stateDir: path.join(tb.dir, `state-${name}`) });

describe('add, pull through the mirror, rollback (plain dockerd, SIGHUP)', () => {
  it('applies live, serves a pull with no internet, and rolls back to the exact bytes and no live mirrors', async () => {
    await resetDaemon(tb, ORIGINAL);
    const opts = state('pull');
    const pidBefore = tb.pid;

    const add = await dockmirror(tb, ['add', mirror], opts);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toContain(`Added ${mirror}`);
    expect(add.stdout).toMatch(/daemon reloaded \(dockerd without a service manager: SIGHUP to pid \d+\) and shows the change live/);
    expect(add.stdout).toContain(`live mirrors: ${mirror}/; reported by its reload event`);
    const written = (await fileBytes(tb))!.toString();
    expect(JSON.parse(written)).toEqual({ labels: ['dm=e2e'], 'registry-mirrors': [mirror], 'insecure-registries': [hostPort] });
    expect(await liveConfig(tb)).toEqual({ mirrors: [`${mirror}/`], insecureHosts: [hostPort] });
    expect(tb.pid).toBe(pidBefore);

    // Docker Hub is unreachable here: the only way this pull can succeed is through the mirror.
    await tb.docker(['pull', 'alpine:3.16.2']);
    const digests = JSON.parse(await tb.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', 'alpine:3.16.2'])) as string[];
    expect(digests).toContain(`alpine@${digest}`);
    await tb.docker(['rmi', 'alpine:3.16.2']);

    const back = await dockmirror(tb, ['rollback'], opts);
    expect(back.stderr).toBe('');
    expect(back.code).toBe(0);
    expect(back.stdout).toContain('Rolled back');
    expect(back.stdout).toContain('live mirrors: (none)');
    expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);
    expect(await liveConfig(tb)).toEqual({ mirrors: [], insecureHosts: [] });
  });

  it('rolls back to a daemon.json that did not exist: the file is removed and no mirror stays live', async () => {
    await resetDaemon(tb, ORIGINAL);
    await rm(tb.configFile);
    const opts = state('absent');
    const add = await dockmirror(tb, ['add', mirror, '--json'], opts);
    expect(add.code).toBe(0);
    const result = JSON.parse(add.stdout) as { apply: { method: string; live: { mirrors: string[] } } };
    expect(result.apply).toMatchObject({ method: 'reload', live: { mirrors: [`${mirror}/`] } });
    expect(await liveConfig(tb)).toEqual({ mirrors: [`${mirror}/`], insecureHosts: [hostPort] });

    const back = await dockmirror(tb, ['rollback'], opts);
    expect(back.code).toBe(0);
    expect(await fileBytes(tb)).toBeNull();
    expect(await liveConfig(tb)).toEqual({ mirrors: [], insecureHosts: [] });
  });

  it('mirror remove of the last mirror leaves no live mirror', async () => {
    await resetDaemon(tb, ORIGINAL);
    const opts = state('remove');
    expect((await dockmirror(tb, ['add', mirror], opts)).code).toBe(0);
    expect((await liveConfig(tb)).mirrors).toEqual([`${mirror}/`]);

    const remove = await dockmirror(tb, ['mirror', 'remove', mirror], opts);
    expect(remove.stderr).toBe('');
    expect(remove.code).toBe(0);
    expect(remove.stdout).toContain('mirrors: (none)');
    expect(JSON.parse((await fileBytes(tb))!.toString())).toEqual({ labels: ['dm=e2e'], 'registry-mirrors': [], 'insecure-registries': [] });
    expect(await liveConfig(tb)).toEqual({ mirrors: [], insecureHosts: [] });
  });
});

describe('running containers across a reload', () => {
  it('keeps a running container running: same Pid and StartedAt, no restart', async () => {
    await resetDaemon(tb, ORIGINAL);
    const opts = state('container');
    const id = (await tb.docker(['run', '-d', '--network', 'none', 'dm-sleep:1'])).trim();
    try {
      const before = await containerState(tb, id);
      expect(before).toMatchObject({ Running: true, restartCount: 0 });

      const add = await dockmirror(tb, ['add', 'http://127.0.0.1:9'], opts);
      expect(add.code).toBe(0);
      expect((await liveConfig(tb)).mirrors).toEqual(['http://127.0.0.1:9/']);
      expect(await containerState(tb, id)).toEqual(before);

      expect((await dockmirror(tb, ['rollback'], opts)).code).toBe(0);
      expect((await liveConfig(tb)).mirrors).toEqual([]);
      expect(await containerState(tb, id)).toEqual(before);
    } finally {
      await tb.docker(['rm', '-f', id]);
    }
  });
});

describe('refusals before writing', () => {
  it('refuses a mirror with a path for this 20.10 daemon with exit 2, writing nothing', async () => {
    await resetDaemon(tb, ORIGINAL);
    const opts = state('path');
    const run = await dockmirror(tb, ['add', 'http://127.0.0.1:5000/some/path'], opts);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/Docker 20\.10\S* does not accept a mirror URL with a path: http:\/\/127\.0\.0\.1:5000\/some\/path/);
    expect(run.stderr).toContain('25.0');
    expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);
    expect(await liveConfig(tb)).toEqual({ mirrors: [], insecureHosts: [] });
    const backups = await dockmirror(tb, ['backups', '--json'], opts);
    expect((JSON.parse(backups.stdout) as { backups: unknown[] }).backups).toEqual([]);
  });
});

describe('--apply none, status and mirror list', () => {
  it('writes without telling the daemon; status and list show the change as pending, then as live', async () => {
    await resetDaemon(tb, ORIGINAL);
    const opts = state('none');
    const add = await dockmirror(tb, ['add', mirror, '--apply', 'none'], opts);
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('daemon not told: --apply none');
    expect(JSON.parse((await fileBytes(tb))!.toString())['registry-mirrors']).toEqual([mirror]);
    expect(await liveConfig(tb)).toEqual({ mirrors: [], insecureHosts: [] });

    const status = await dockmirror(tb, ['status'], opts);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`daemon.json  ${tb.configFile}`);
    expect(status.stdout).toMatch(new RegExp(`daemon +${tb.dockerHost} \\(DOCKER_HOST\\), dockerd 20\\.10\\S*, setup: plain`));
    expect(status.stdout).toContain(`mirrors      file: ${mirror}   live: (none)`);
    expect(status.stdout).toContain('! not applied yet: mirrors: daemon has [], file asks for');
    expect(status.stdout).toContain(`log          dockerd (pid ${tb.pid}) writes its log to ${tb.logFile}`);
    expect(status.stdout).toMatch(/backups +1 in /);

    const json = JSON.parse((await dockmirror(tb, ['status', '--json'], opts)).stdout) as Record<string, any>;
    expect(json.file).toEqual({ mirrors: [mirror], insecureRegistries: [hostPort] });
    expect(json.daemon).toMatchObject({ reachable: true, endpoint: tb.dockerHost, setup: 'plain', live: { mirrors: [], insecureRegistries: [] }, flagConflicts: [] });
    expect(json.pending).toMatch(/^mirrors: /);
    expect(json.backups).toBe(1);

    const list = await dockmirror(tb, ['mirror', 'list'], opts);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/registry-mirrors: +live/);
    expect(list.stdout).toMatch(new RegExp(`1\\. ${mirror.replace(/\./g, '\\.')} +not applied`));
    const listJson = JSON.parse((await dockmirror(tb, ['mirror', 'list', '--json'], opts)).stdout) as Record<string, any>;
    expect(listJson).toMatchObject({ mirrors: [mirror], live: { mirrors: [] } });

    // The same change applied: undo the pending one without telling the daemon, then add with the default.
    expect((await dockmirror(tb, ['rollback', '--apply', 'none'], opts)).code).toBe(0);
    expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);
    expect((await dockmirror(tb, ['add', mirror], opts)).code).toBe(0);
    const applied = await dockmirror(tb, ['status'], opts);
    expect(applied.stdout).toContain(`mirrors      file: ${mirror}   live: ${mirror}/`);
    expect(applied.stdout).toContain('✓ the daemon uses what the file says');
    expect((await dockmirror(tb, ['mirror', 'list'], opts)).stdout).toMatch(new RegExp(`1\\. ${mirror.replace(/\./g, '\\.')} +yes`));
    expect((await dockmirror(tb, ['rollback'], opts)).code).toBe(0);
    expect(await liveConfig(tb)).toEqual({ mirrors: [], insecureHosts: [] });
  });
});

describe('a --config-file the running daemon does not read', () => {
  it('is written but the daemon is not told (auto), and refused before writing with --apply reload', async () => {
    await resetDaemon(tb, ORIGINAL);
    const other = path.join(tb.dir, 'elsewhere', 'daemon.json');
    const liveBefore = await liveConfig(tb);

    const auto = await dockmirror(tb, ['add', mirror], { ...state('elsewhere'), configFile: other });
    expect(auto.code).toBe(0);
    expect(auto.stdout).toContain(`reads ${tb.configFile}, not this file; it was not told`);
    expect(await liveConfig(tb)).toEqual(liveBefore);
    expect((await fileBytes(tb))!.toString()).toBe(ORIGINAL);

    const other2 = path.join(tb.dir, 'elsewhere2', 'daemon.json');
    const forced = await dockmirror(tb, ['add', mirror, '--apply', 'reload'], { ...state('elsewhere2'), configFile: other2 });
    expect(forced.code).toBe(2);
    expect(forced.stderr).toContain(`reads ${tb.configFile}, not ${other2}. Nothing was written.`);
    await expect(rm(other2)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await liveConfig(tb)).toEqual(liveBefore);
  });
});
