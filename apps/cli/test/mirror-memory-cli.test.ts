// On a real dockerd 20.10 with a real registry: a preset remembers the address it was added with (verify and
// remove mean that mirror, not the default port), and an insecure entry the user rewrote by hand is theirs:
// `mirror list` does not mark it and `remove` keeps it, byte for byte.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLines, dockmirror, freePort, seedImage, startTestbed, type Testbed } from './verify-helpers.js';

let tb: Testbed;
let stateDir: string;
const ORIGINAL = '{}\n';

beforeAll(async () => {
  tb = await startTestbed({ registry: true, daemonJson: ORIGINAL });
  await seedImage(tb, 'alpine:3.16.2');
  stateDir = await mkdtemp(path.join(tmpdir(), 'dm-memory-state-'));
});
afterAll(async () => {
  await tb?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

const cli = (args: string[]) => dockmirror([...args, '--config-file', tb.configFile, '--state-dir', stateDir], { DOCKER_HOST: tb.dockerHost });
const file = () => readFile(tb.configFile, 'utf8');

describe('a preset remembers its address', () => {
  it('after add local --port P, verify local and remove local mean port P', async () => {
    const mirror = `http://127.0.0.1:${tb.registryPort}`;
    const added = await cli(['add', 'local', '--port', String(tb.registryPort)]);
    expect(added.code, added.stderr).toBe(0);
    const verified = await cli(['mirror', 'verify', 'local', '--image', 'alpine:3.16.2']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain(`local → ${mirror}`);
    expect(verified.stdout).toMatch(/· local: http:\/\/127\.0\.0\.1:\d+, the address it was added with \(dockmirror add, .*; backup \d{8}T\d{9}Z-[0-9a-f]{6}\)/);
    expect(checkLines(verified.stdout).config).toMatch(/^✓ daemon\.json lists it at position 1 of 1/);
    // --port still chooses: port 5000 is not in the file.
    const other = await cli(['mirror', 'verify', 'local', '--port', '5000', '--timeout', '1']);
    expect(other.code).toBe(6);
    expect(other.stdout).toContain('local → http://127.0.0.1:5000');
    const removed = await cli(['remove', 'local']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(`Removed ${mirror}`);
    expect(await file()).toBe('{\n  "registry-mirrors": [],\n  "insecure-registries": []\n}\n');
    const { backups } = JSON.parse((await cli(['backups', '--json'])).stdout) as { backups: { op: string; args: Record<string, unknown> }[] };
    expect(backups.find((b) => b.op === 'mirror remove')?.args).toEqual({ mirror, preset: 'local' });
  });

  it('once its mirror is gone from the file, the preset means its default again', async () => {
    const r = await cli(['mirror', 'verify', 'local', '--timeout', '1', '--json']);
    expect(r.code).toBe(6);
    expect((JSON.parse(r.stdout) as { results: { mirror: string }[] }).results[0]?.mirror).toBe('http://127.0.0.1:5000');
  });
});

describe('an insecure entry rewritten by hand is the user\'s', () => {
  it('is not marked by mirror list, and remove keeps it while removing the mirror', async () => {
    await writeFile(tb.configFile, ORIGINAL);
    const port = await freePort();
    const mirror = `http://127.0.0.1:${port}`;
    const added = await cli(['add', mirror]);
    expect(added.code, added.stderr).toBe(0);
    const before = JSON.parse((await cli(['mirror', 'list', '--json'])).stdout) as { ownedInsecureRegistries: string[] };
    expect(before.ownedInsecureRegistries).toEqual([`127.0.0.1:${port}`]);
    expect((await cli(['mirror', 'list'])).stdout).toContain(`- 127.0.0.1:${port} (added by dockmirror)`);

    // The user rewrites the entry by hand; it means the same host to dockerd, but it is now theirs.
    const edited = (await file()).replace(`"127.0.0.1:${port}"`, `"http://127.0.0.1:${port}"`);
    await writeFile(tb.configFile, edited);
    const list = await cli(['mirror', 'list']);
    expect(list.stdout).toMatch(new RegExp(`- http://127\\.0\\.0\\.1:${port}\\n`));
    expect(list.stdout).not.toContain('(added by dockmirror)');
    expect((JSON.parse((await cli(['mirror', 'list', '--json'])).stdout) as { ownedInsecureRegistries: string[] }).ownedInsecureRegistries).toEqual([]);

    const removed = await cli(['remove', mirror]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(`Kept insecure-registries entry "http://127.0.0.1:${port}": dockmirror added 127.0.0.1:${port}, but the entry was rewritten by hand`);
    expect(await file()).toBe(`{\n  "registry-mirrors": [],\n  "insecure-registries": [\n    "http://127.0.0.1:${port}"\n  ]\n}\n`);
  });

  it('an entry left as dockmirror wrote it goes with its mirror', async () => {
    await writeFile(tb.configFile, ORIGINAL);
    const mirror = `http://127.0.0.1:${await freePort()}`;
    expect((await cli(['add', mirror])).code).toBe(0);
    const removed = await cli(['remove', mirror]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).not.toContain('Kept');
    expect(await file()).toBe('{\n  "registry-mirrors": [],\n  "insecure-registries": []\n}\n');
  });
});
