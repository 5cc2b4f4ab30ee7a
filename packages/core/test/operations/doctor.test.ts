// `doctor` against what a user meets: no daemon, a file dockerd would refuse, no mirror, then a real dockerd
// and a real registry, healthy and with an edit it has not applied. Its verdict and findings are the outcome.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/operations/doctor.js';
import { isolated } from '../support/hermetic.js';
import { freePort } from '../support/registry.js';
import { startTestbed, type Testbed } from '../support/testbed.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-doctor-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('doctor without a daemon', () => {
  const noDaemon = () => ({ ...isolated(dir), configFile: path.join(dir, 'daemon.json'), dockerHost: `unix://${path.join(dir, 'none.sock')}`, timeoutMs: 10 * 60_000 });

  it('is not ok: the daemon is unreachable and a mirror that refuses connections is named with its fix', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const bytes = JSON.stringify({ 'registry-mirrors': [closed] });
    await writeFile(path.join(dir, 'daemon.json'), bytes);
    const report = await runDoctor(noDaemon());
    expect(report.ok).toBe(false);
    expect(report.status.daemon.reachable).toBe(false);
    expect(report.findings[0]).toEqual({
      problem: `no Docker daemon answered at unix://${path.join(dir, 'none.sock')} and no running dockerd reads ${path.join(dir, 'daemon.json')}`,
      fix: 'Start Docker, or point --docker-host / DOCKER_HOST at the running daemon.',
    });
    expect(report.findings).toContainEqual({ problem: expect.stringMatching(new RegExp(`^${closed}: connection refused`)), fix: 'Start the mirror, or correct its host and port.' });
    // The live check repeats what status said about the daemon: not a finding of its own.
    expect(report.findings.filter((f) => f.problem.startsWith(`${closed}: `)).every((f) => !/daemon/i.test(f.problem))).toBe(true);
    expect(report.verify?.results.map((r) => r.mirror)).toEqual([closed]);
    // Reads only.
    expect(await readFile(path.join(dir, 'daemon.json'), 'utf8')).toBe(bytes);
  }, 20_000);

  it('says a file without mirrors has none, and verifies nothing', async () => {
    await writeFile(path.join(dir, 'daemon.json'), '{}\n');
    const report = await runDoctor(noDaemon());
    expect(report.ok).toBe(false);
    expect(report.verify).toBeNull();
    expect(report.findings.at(-1)).toEqual({ problem: 'daemon.json has no registry mirrors.', fix: 'Add one: dockmirror add <preset|url> (see dockmirror presets).' });
  }, 20_000);

  it('names a file dockerd would refuse, and how to fix it', async () => {
    const file = path.join(dir, 'daemon.json');
    await writeFile(file, '{"registry-mirrors": [}\n');
    const report = await runDoctor(noDaemon());
    expect(report.ok).toBe(false);
    expect(report.findings[0]).toEqual({ problem: expect.stringContaining(file), fix: `Fix ${file} by hand; dockerd would refuse it too.` });
    expect(report.verify).toBeNull();
  }, 20_000);
});

describe('doctor on a real dockerd with a real registry', () => {
  let tb: Testbed;
  beforeAll(async () => {
    tb = await startTestbed({ registry: true });
  });
  afterAll(async () => {
    await tb?.stop();
  });
  const live = () => ({ ...isolated(dir), configFile: tb.configFile, dockerHost: tb.dockerHost, stateDir: path.join(tb.dir, 'state') });

  async function reloadTo(bytes: string, mirrors: string[]): Promise<void> {
    await writeFile(tb.configFile, bytes);
    await tb.reload();
    for (let i = 0; ; i++) {
      const shown = JSON.parse(await tb.docker(['info', '--format', '{{json .RegistryConfig.Mirrors}}'])) as string[] | null;
      if (JSON.stringify(shown ?? []) === JSON.stringify(mirrors.map((m) => `${m}/`))) return;
      if (i > 100) throw new Error(`dockerd did not apply ${bytes}: it shows ${JSON.stringify(shown)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('is ok with no findings when the live mirror is the file\'s and it answers', async () => {
    await reloadTo(JSON.stringify({ 'registry-mirrors': [tb.registryUrl] }), [tb.registryUrl!]);
    const report = await runDoctor(live());
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.status.daemon).toMatchObject({ reachable: true, flagConflicts: [] });
    expect(report.verify).toMatchObject({ ok: true, results: [{ mirror: tb.registryUrl, ok: true }] });
  });

  it('names an edit the daemon has not applied, with the reload fix', async () => {
    const other = `http://127.0.0.1:${await freePort()}`;
    await writeFile(tb.configFile, JSON.stringify({ 'registry-mirrors': [other, tb.registryUrl] }));
    const report = await runDoctor(live());
    expect(report.ok).toBe(false);
    expect(report.status.pending).toBeTruthy();
    expect(report.findings[0]).toMatchObject({
      problem: `The daemon does not use what daemon.json says: ${report.status.pending}.`,
      fix: expect.stringMatching(/^Run `dockmirror apply` to make the daemon load the file \(its log: dockerd \(pid \d+\) writes its log to .+\), or undo the edit with `dockmirror rollback`\.$/),
    });
    // The mirror that is not there fails its api check; the live one still passes, so it is not a finding.
    expect(report.findings.slice(1).map((f) => f.problem.split(': ')[0])).toEqual([other]);
  });
});
