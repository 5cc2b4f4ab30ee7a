// The Ansible collection, built and installed from its tarball, driving the built dockmirror CLI on a fleet of
// local hosts: one is a real dockerd 20.10 (with a real docker-registry as the mirror), two are plain
// daemon.json files, one is broken. Then the example rollout playbook, whose rescue rolls back a failed host.
import { access, readFile, writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, liveConfig, resetDaemon, startTestbed, type Testbed } from '../../../apps/cli/test/support/daemon-cli.js';
import { NO_DAEMON } from '../../../packages/core/test/support/hermetic.js';
import { freePort } from '../../../packages/core/test/support/registry.js';
import { EXECUTABLE, hostResults, installCollection, outcome, run, type AnsibleHome, type HostResult } from './support/ansible.js';

// Each host's daemon.json, spelled differently, so "untouched" is a byte comparison.
const DAEMON_JSON = '{\n    "labels": ["dm=ansible"]\n}\n';
const PLAIN_JSON: Record<string, string> = { plain1: '{\n\t"debug": true\n}\n', plain2: '{}' };
const BROKEN_JSON = '{\n  "labels": ["a",]\n}\n';

let tb: Testbed;
let home: AnsibleHome;
let dir: string;
let mirror: string;
const files: Record<string, string> = {};

const FLEET_PLAYBOOK = `- name: Mirror on the fleet
  hosts: fleet
  gather_facts: false
  tasks:
    - name: mirror
      dockmirror.mirrors.mirror:
        mirror: "{{ fleet_mirror }}"
        state: "{{ fleet_state | default('present') }}"
        config_file: "{{ dm_config_file }}"
        state_dir: "{{ dm_state_dir }}"
        docker_host: "{{ dm_docker_host }}"
        executable: "{{ dm_executable }}"
        timeout: 30
        deadline: "{{ fleet_deadline | default(omit) }}"
`;

/** A host of the fleet inventory: its own daemon.json, state folder and endpoint. */
function host(name: string, dockerHost: string) {
  return { dm_config_file: files[name], dm_state_dir: path.join(dir, `state-${name}`), dm_docker_host: dockerHost };
}

beforeAll(async () => {
  assertBuilt();
  dir = await mkdtemp('/tmp/dm-ansible-');
  [tb, home] = await Promise.all([startTestbed({ registry: true, daemonJson: DAEMON_JSON }), installCollection(dir)]);
  mirror = tb.registryUrl!;
  files.daemon = tb.configFile;
  for (const name of ['plain1', 'plain2', 'broken']) files[name] = path.join(dir, `${name}.json`);
  // JSON is YAML: the inventory needs no quoting of its own.
  const inventory = {
    all: {
      vars: { ansible_connection: 'local', dm_executable: EXECUTABLE },
      children: {
        fleet: {
          hosts: {
            daemon: host('daemon', tb.dockerHost),
            plain1: host('plain1', NO_DAEMON),
            plain2: host('plain2', NO_DAEMON),
            broken: host('broken', NO_DAEMON),
          },
        },
      },
    },
  };
  await writeFile(path.join(dir, 'fleet.yml'), JSON.stringify(inventory, null, 2));
  await writeFile(path.join(dir, 'mirror.yml'), FLEET_PLAYBOOK);
});
afterAll(async () => {
  await tb?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function writeFleetFiles(): Promise<void> {
  await resetDaemon(tb, DAEMON_JSON);
  for (const [name, bytes] of Object.entries(PLAIN_JSON)) await writeFile(files[name]!, bytes);
  await writeFile(files.broken!, BROKEN_JSON);
}

const original = (name: string) => (name === 'daemon' ? DAEMON_JSON : name === 'broken' ? BROKEN_JSON : PLAIN_JSON[name]!);
const bytes = (name: string) => readFile(files[name]!, 'utf8');
const mirrorPlay = (...args: string[]) => home.playbook(['-i', path.join(dir, 'fleet.yml'), path.join(dir, 'mirror.yml'), '-e', `fleet_mirror=${mirror}`, ...args]);
/** A `+` line of a unified diff that adds the JSON string `value` (indented as the file is). */
const addedLine = (value: string) => new RegExp(`^\\+\\s+${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')},?$`, 'm');
const diffOf = (result: HostResult | undefined) => [result?.diff ?? []].flat().map((d) => d.prepared ?? '').join('');

/** The broken host's result: dockmirror's own message, code, hint, location and exit code. */
function expectBrokenFailure(result: HostResult | undefined): void {
  expect(result).toMatchObject({
    failed: true,
    changed: false,
    rc: 3,
    code: 'INVALID_CONFIG',
    msg: `${files.broken}:2:18: invalid JSON: value expected (a trailing comma?)`,
    location: { file: files.broken, line: 2, column: 18 },
  });
  expect(result?.hint).toContain(`Fix ${files.broken} by hand`);
}

describe('dockmirror.mirrors.mirror on a fleet of four local hosts', () => {
  it('--check --diff reports each good host changed with its diff, fails the broken one, and writes nothing', async () => {
    await writeFleetFiles();
    const play = await mirrorPlay('--check', '--diff');
    expect(play.code).toBe(2);
    expect(outcome(play.report)).toEqual({
      daemon: { changed: true, failed: false, rescued: false },
      plain1: { changed: true, failed: false, rescued: false },
      plain2: { changed: true, failed: false, rescued: false },
      broken: { changed: false, failed: true, rescued: false },
    });
    for (const name of ['daemon', 'plain1', 'plain2']) {
      const result = hostResults(play.report, name).mirror;
      expect(result?.dockmirror).toMatchObject({ changed: true, dryRun: true, backup: null });
      expect(result?.cmd).toContain('--dry-run');
      const diff = diffOf(result);
      expect(diff).toContain(`--- ${files[name]}`);
      expect(diff).toMatch(addedLine(mirror));
      expect(diff).toMatch(addedLine(`127.0.0.1:${tb.registryPort}`));
    }
    expectBrokenFailure(hostResults(play.report, 'broken').mirror);
    for (const name of ['daemon', 'plain1', 'plain2', 'broken']) expect(await bytes(name)).toBe(original(name));
    expect(await liveConfig(tb)).toEqual({ mirrors: [], insecureHosts: [] });
  });

  it('a run changes exactly the good hosts, makes the mirror live on the daemon host, and leaves the broken file alone', async () => {
    await writeFleetFiles();
    const play = await mirrorPlay('--diff');
    expect(play.code).toBe(2);
    expect(outcome(play.report)).toEqual({
      daemon: { changed: true, failed: false, rescued: false },
      plain1: { changed: true, failed: false, rescued: false },
      plain2: { changed: true, failed: false, rescued: false },
      broken: { changed: false, failed: true, rescued: false },
    });
    for (const name of ['daemon', 'plain1', 'plain2']) {
      const result = hostResults(play.report, name).mirror;
      expect(JSON.parse(await bytes(name))).toMatchObject({ 'registry-mirrors': [mirror], 'insecure-registries': [`127.0.0.1:${tb.registryPort}`] });
      expect(result).toMatchObject({ changed: true, config_file: files[name], mirrors: [mirror] });
      expect(result?.backup).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]+$/);
      // Diff mode outside check mode: the diff of a dry run just before the change.
      expect(diffOf(result)).toMatch(addedLine(mirror));
      // --engine and --registry only when set: today's CLI has neither.
      expect(result?.cmd?.some((word) => /^--(engine|registry)\b/.test(word))).toBe(false);
      expect(result?.cmd).not.toContain('--dry-run');
    }
    expect(hostResults(play.report, 'daemon').mirror?.dockmirror).toMatchObject({ apply: { method: 'reload', live: { mirrors: [`${mirror}/`] } } });
    // Read back independently: the real docker CLI's GET /info.
    expect(await liveConfig(tb)).toEqual({ mirrors: [`${mirror}/`], insecureHosts: [`127.0.0.1:${tb.registryPort}`] });
    expectBrokenFailure(hostResults(play.report, 'broken').mirror);
    expect(await bytes('broken')).toBe(BROKEN_JSON);

    const again = await mirrorPlay();
    expect(again.code).toBe(2);
    expect(outcome(again.report)).toEqual({
      daemon: { changed: false, failed: false, rescued: false },
      plain1: { changed: false, failed: false, rescued: false },
      plain2: { changed: false, failed: false, rescued: false },
      broken: { changed: false, failed: true, rescued: false },
    });
    expect(hostResults(again.report, 'daemon').mirror).toMatchObject({ backup: null, mirrors: [mirror] });
  });

  it('state: absent takes the mirror away on every good host and from the live daemon', async () => {
    const play = await mirrorPlay('-e', 'fleet_state=absent', '--limit', 'daemon,plain1,plain2');
    expect(play.code).toBe(0);
    expect(outcome(play.report)).toEqual({
      daemon: { changed: true, failed: false, rescued: false },
      plain1: { changed: true, failed: false, rescued: false },
      plain2: { changed: true, failed: false, rescued: false },
    });
    for (const name of ['daemon', 'plain1', 'plain2']) {
      expect(JSON.parse(await bytes(name))).toMatchObject({ 'registry-mirrors': [], 'insecure-registries': [] });
      expect(hostResults(play.report, name).mirror?.cmd).toEqual(expect.arrayContaining(['mirror', 'remove', '--', mirror]));
    }
    expect(await liveConfig(tb)).toEqual({ mirrors: [], insecureHosts: [] });
  });

  it('stops a CLI that overruns its deadline: SIGTERM first, SIGKILL when that is ignored, and the task fails', async () => {
    const marker = path.join(dir, 'got-sigterm');
    // Stands in for a dockmirror that hangs and ignores SIGTERM; the real one cannot be made to.
    const code = `process.on("SIGTERM", () => require("fs").writeFileSync(${JSON.stringify(marker)}, "TERM")); setInterval(() => {}, 1000)`;
    const hung = `'${process.execPath}' -e '${code}'`;
    await writeFile(files.plain1!, PLAIN_JSON.plain1!);
    const play = await mirrorPlay('--limit', 'plain1', '-e', JSON.stringify({ dm_executable: hung, fleet_deadline: 1 }));
    expect(play.code).toBe(2);
    const result = hostResults(play.report, 'plain1').mirror;
    expect(result).toMatchObject({ failed: true, rc: -9 });
    expect(result?.msg).toContain('dockmirror did not finish within the deadline of 1 s and was stopped (SIGTERM, then SIGKILL after 10 s)');
    expect(await readFile(marker, 'utf8')).toBe('TERM');
    expect(await bytes('plain1')).toBe(PLAIN_JSON.plain1);
  });
});

describe('misuse fails the task clearly', () => {
  it('names a missing executable, refuses output that is not dockmirror JSON, and passes a mirror that looks like a flag as a mirror', async () => {
    await writeFile(files.plain1!, PLAIN_JSON.plain1!);
    const tasks = [
      { name: 'missing', executable: 'dockmirror-not-installed-here', mirror: mirror },
      { name: 'not dockmirror', executable: '/bin/echo', mirror: mirror },
      // After `--`, dockmirror reads it as the mirror it is, never as a flag that picks another file.
      { name: 'flag-like mirror', executable: EXECUTABLE, mirror: '--config-file=/etc/passwd' },
    ];
    const playbook = [{
      hosts: 'plain1',
      gather_facts: false,
      tasks: tasks.map(({ name, executable, mirror: value }) => ({
        name,
        ignore_errors: true,
        'dockmirror.mirrors.mirror': { mirror: value, config_file: '{{ dm_config_file }}', state_dir: '{{ dm_state_dir }}', docker_host: '{{ dm_docker_host }}', executable },
      })),
    }];
    await writeFile(path.join(dir, 'misuse.yml'), JSON.stringify(playbook, null, 2));
    const play = await home.playbook(['-i', path.join(dir, 'fleet.yml'), path.join(dir, 'misuse.yml')]);
    expect(play.code).toBe(0);
    const results = hostResults(play.report, 'plain1');
    expect(results.missing).toMatchObject({ failed: true });
    expect(results.missing?.msg).toContain('Failed to find required executable "dockmirror-not-installed-here"');
    expect(results['not dockmirror']).toMatchObject({ failed: true, rc: 0 });
    expect(results['not dockmirror']?.msg).toBe('dockmirror exited with 0 and printed no JSON result; is executable the dockmirror CLI?');
    expect(results['flag-like mirror']).toMatchObject({ failed: true, rc: 2, code: 'INVALID_MIRROR', msg: 'Invalid mirror "--config-file=/etc/passwd": no scheme.' });
    expect(await bytes('plain1')).toBe(PLAIN_JSON.plain1);
  });
});

describe('the rollout playbook', () => {
  it('rolls out to the canary, then stops at a batch whose verify fails, rolling that host back byte for byte', async () => {
    await writeFleetFiles();
    const dead = `http://127.0.0.1:${await freePort()}`;
    const late = path.join(dir, 'late.json');
    await writeFile(late, PLAIN_JSON.plain2!);
    const rolloutHost = (name: string, file: string, dockerHost: string) => ({
      dockmirror_config_file: file,
      dockmirror_state_dir: path.join(dir, `rollout-state-${name}`),
      dockmirror_docker_host: dockerHost,
    });
    const inventory = {
      all: {
        vars: { ansible_connection: 'local', dockmirror_executable: EXECUTABLE, dockmirror_mirror: mirror, dockmirror_timeout: 30 },
        children: {
          canary: { hosts: { daemon: rolloutHost('daemon', tb.configFile, tb.dockerHost) } },
          fleet: {
            hosts: {
              daemon: {},
              // Nothing listens on its mirror: verify fails there.
              dead: { ...rolloutHost('dead', files.plain1!, NO_DAEMON), dockmirror_mirror: dead },
              late: rolloutHost('late', late, NO_DAEMON),
            },
          },
        },
      },
    };
    await writeFile(path.join(dir, 'rollout.yml'), JSON.stringify(inventory, null, 2));
    const play = await home.playbook(['-i', path.join(dir, 'rollout.yml'), 'dockmirror.mirrors.rollout', '-e', 'dockmirror_hosts=fleet']);
    expect(play.code).toBe(2);
    // The canary went first and passed; batch one (dead) failed and was rescued; late was never reached.
    expect(outcome(play.report)).toEqual({
      daemon: { changed: true, failed: false, rescued: false },
      dead: { changed: true, failed: true, rescued: true },
    });
    expect(play.report.plays.map((p) => p.play.name)).toEqual(['Canary', 'Fleet, in batches']);
    const canary = hostResults(play.report, 'daemon');
    expect(canary['Add the mirror']).toMatchObject({ changed: true });
    expect(canary['Verify the mirror']).toMatchObject({ changed: false, ok: true });
    expect(await liveConfig(tb)).toEqual({ mirrors: [`${mirror}/`], insecureHosts: [`127.0.0.1:${tb.registryPort}`] });

    const failed = hostResults(play.report, 'dead');
    const added = failed['Add the mirror'];
    expect(added).toMatchObject({ changed: true, mirrors: [dead] });
    const verify = failed['Verify the mirror'];
    expect(verify).toMatchObject({ failed: true, rc: 6, code: 'VERIFY_FAILED', ok: false });
    expect(verify?.failed_checks).toEqual(expect.arrayContaining([expect.objectContaining({ mirror: dead, check: 'api', summary: 'the mirror did not answer GET /v2/' })]));
    expect(failed["Roll back this run's change"]).toMatchObject({ changed: true, mirrors: [] });
    expect(failed["Roll back this run's change"]?.cmd).toEqual(expect.arrayContaining(['rollback', '--', added?.backup as string]));
    expect(failed['Fail this host, so the batch counts it']?.msg).toContain(`rolled back to backup ${added?.backup as string}`);
    expect(await bytes('plain1')).toBe(PLAIN_JSON.plain1);
    expect(await readFile(late, 'utf8')).toBe(PLAIN_JSON.plain2);
    await expect(access(path.join(dir, 'rollout-state-late'))).rejects.toThrow();
  });
});

describe('the collection itself', () => {
  it('ansible-doc renders each module with its options', async () => {
    const options: Record<string, string[]> = {
      mirror: ['mirror', 'state', 'registry', 'engine', 'position', 'config_file', 'docker_host', 'apply', 'insecure', 'timeout', 'executable', 'state_dir', 'deadline', 'allow_restart'],
      verify: ['mirror', 'image', 'pull', 'fresh', 'metrics_url', 'timeout', 'engine', 'registry', 'config_file', 'state_dir', 'docker_host', 'deadline', 'executable'],
      rollback: ['id', 'force', 'engine', 'apply', 'allow_restart', 'timeout', 'config_file', 'state_dir', 'docker_host', 'deadline', 'executable'],
    };
    const docs = await Promise.all(Object.keys(options).map((module) => home.ansible('ansible-doc', [`dockmirror.mirrors.${module}`])));
    for (const [i, [module, names]] of Object.entries(options).entries()) {
      const doc = docs[i]!;
      expect(doc.stderr).toBe('');
      expect(doc.code).toBe(0);
      expect(doc.stdout).toContain(`> DOCKMIRROR.MIRRORS.${module.toUpperCase()}`);
      // The OPTIONS section ends where the attributes (or notes) begin; each option is `- name` (`= name` if required).
      const section = doc.stdout.slice(doc.stdout.indexOf('OPTIONS'), doc.stdout.search(/^(ATTRIBUTES|NOTES):/m));
      expect([...section.matchAll(/^[-=] (\w+)$/gm)].map((m) => m[1]).sort()).toEqual([...names].sort());
      expect(doc.stdout).toContain('EXAMPLES:');
      expect(doc.stdout).toContain('RETURN VALUES:');
    }
  });

  it('ansible-galaxy collection build made a tarball with the modules, the playbook and the README', async () => {
    expect(path.basename(home.tarball)).toBe('dockmirror-mirrors-0.1.0.tar.gz');
    const listing = await run('tar', ['tzf', home.tarball], { env: home.env, cwd: dir });
    expect(listing.code).toBe(0);
    const entries = listing.stdout.split('\n').filter((line) => line && !line.endsWith('/'));
    expect(entries.sort()).toEqual([
      'FILES.json',
      'MANIFEST.json',
      'README.md',
      'meta/runtime.yml',
      'playbooks/rollout.yml',
      'playbooks/tasks/rollout-host.yml',
      'plugins/doc_fragments/common.py',
      'plugins/module_utils/dockmirror_cli.py',
      'plugins/modules/mirror.py',
      'plugins/modules/rollback.py',
      'plugins/modules/verify.py',
    ]);
    const manifest = JSON.parse(await readFile(path.join(dir, 'collections', 'ansible_collections', 'dockmirror', 'mirrors', 'MANIFEST.json'), 'utf8')) as {
      collection_info: { namespace: string; name: string; version: string; license: string[] };
    };
    expect(manifest.collection_info).toMatchObject({ namespace: 'dockmirror', name: 'mirrors', version: '0.1.0', license: ['MIT'] });
  });
});
