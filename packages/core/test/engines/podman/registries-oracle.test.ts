// The real podman 4.3 as the oracle of the reader: for hand-written and random files, podman and dockmirror
// refuse the same files, and for the others dockmirror's effective settings are podman info's.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { effectiveSettings } from '../../../src/engines/podman/locate.js';
import { registriesFromInfo } from '../../../src/engines/podman/podman-info.js';
import { parseRegistriesConf } from '../../../src/engines/podman/registries-conf.js';
import { startPodmanRig, type PodmanRig } from '../../support/podman.js';
import { registriesConfFile } from './arbitrary.js';

let rig: PodmanRig;
beforeAll(async () => {
  rig = await startPodmanRig();
});
afterAll(() => rig?.stop());

/** podman's verdict on a file as its main registries.conf: its registries, or the error it stopped with. */
async function podmanReads(text: string | Buffer, file = rig.registriesConf) {
  await writeFile(file, text);
  const out = await rig.podman(['info', '--format', 'json']);
  if (out.code !== 0) return { error: out.stderr };
  const view = registriesFromInfo(out.stdout);
  if (view.state !== 'ok') throw new Error(JSON.stringify(view));
  return { registries: view.registries };
}

function oursOf(text: string | Buffer) {
  try {
    const doc = parseRegistriesConf(rig.registriesConf, Buffer.from(text));
    return { registries: effectiveSettings([doc]).map(({ source: _s, line: _l, ...t }) => t) };
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    return { error: error.message };
  }
}

const REFUSED: [string, string | Buffer][] = [
  ['a v1/v2 mix', '[[registry]]\nlocation = "a.io"\n[registries.insecure]\nregistries = ["b.io"]\n'],
  ['location = 5', '[[registry]]\nlocation = 5\n'],
  ['insecure = "yes"', '[[registry]]\nlocation = "a.io"\ninsecure = "yes"\n'],
  ['[registry] as one table', '[registry]\nlocation = "a.io"\n'],
  ['a search list of numbers', 'unqualified-search-registries = ["a.io", 3]\n'],
  ['a scheme in a location', '[[registry]]\nlocation = "https://quay.io"\n'],
  ['a scheme in a prefix', '[[registry]]\nprefix = "http://quay.io"\nlocation = "quay.io"\n'],
  ['a scheme in a mirror', '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "http://127.0.0.1:5000"\n'],
  ['neither location nor prefix', '[[registry]]\ninsecure = true\n'],
  ['a prefix without location', '[[registry]]\nprefix = "a.io"\n'],
  ['a mirror without location', '[[registry]]\nlocation = "a.io"\n[[registry.mirror]]\ninsecure = true\n'],
  ['pull-from-mirror on the registry', '[[registry]]\nlocation = "a.io"\npull-from-mirror = "all"\n'],
  ['a bad pull-from-mirror', '[[registry]]\nlocation = "a.io"\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "some"\n'],
  ['digest-only with pull-from-mirror', '[[registry]]\nlocation = "a.io"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "all"\n'],
  ['conflicting insecure', '[[registry]]\nlocation = "a.io"\n[[registry]]\nprefix = "a.io/x"\nlocation = "a.io"\ninsecure = true\n'],
  ['conflicting blocked', '[[registry]]\nlocation = "a.io"\nblocked = true\n[[registry]]\nprefix = "a.io/x"\nlocation = "a.io"\n'],
  ['a bad wildcard', '[[registry]]\nprefix = "*.a.io/x"\nlocation = "b"\n'],
  ['a bad search registry', 'unqualified-search-registries = ["a.io/x"]\n'],
  ['a bad short-name-mode', 'short-name-mode = "loose"\n'],
  ['invalid TOML', '[[registry]]\nlocation = \n'],
  ['a key twice', '[[registry]]\nlocation = "a"\nlocation = "b"\n'],
  ['a BOM', Buffer.from('\uFEFF[[registry]]\nlocation = "a.io"\n')],
  ['invalid UTF-8', Buffer.from([0x23, 0xff, 0x0a])],
];

const ACCEPTED: [string, string][] = [
  ['an empty file', ''],
  ['prefix from location, trailing slashes', '[[registry]]\nlocation = "quay.io/"\n[[registry]]\nprefix = "docker.io/"\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "127.0.0.1:5000/"\ninsecure = true\n'],
  ['a later table of the same prefix ignored', '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "first:1"\n[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "second:1"\n'],
  ['inline arrays', 'registry = [{ location = "a.io", mirror = [{ location = "m:1", insecure = true }] }]\n'],
  ['unknown keys and tables', 'x = 1\n[[registry]]\nlocation = "a.io"\nfoo = [1]\n[other]\ny = 2\n'],
  ['empty v1 sections beside v2', '[registries.search]\nregistries = []\n[[registry]]\nlocation = "a.io"\n'],
  ['a wildcard prefix without location', '[[registry]]\nprefix = "*.example.com"\n[[registry.mirror]]\nlocation = "m:1"\n'],
  ['pull-from-mirror and digest-only', '[[registry]]\nlocation = "a.io"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m"\n[[registry]]\nlocation = "b.io"\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "digest-only"\n'],
];

describe('podman and dockmirror refuse the same files', () => {
  it.each(REFUSED)('%s', async (_name, text) => {
    const theirs = await podmanReads(text);
    expect(theirs.error).toMatch(/Error: /);
    expect(oursOf(text).error).toMatch(/^\/tmp\/dm-podman-[^:]+:\d+:\d+: /);
  });

  it('a v1 file: podman converts it as the main file and refuses it as a drop-in; dockmirror refuses it to edit it', async () => {
    const v1 = '[registries.search]\nregistries = ["docker.io"]\n[registries.insecure]\nregistries = ["localhost:5000"]\n';
    expect((await podmanReads(v1)).registries).toEqual([expect.objectContaining({ prefix: 'localhost:5000', insecure: true })]);
    await writeFile(path.join(rig.systemDropIns, 'v1.conf'), v1);
    try {
      expect((await podmanReads('')).error).toMatch(/must be in v2 format/);
    } finally {
      await writeFile(path.join(rig.systemDropIns, 'v1.conf'), '');
    }
    expect(oursOf(v1).error).toMatch(/old v1 format/);
  });
});

describe('and read the others alike', () => {
  it.each(ACCEPTED)('%s', async (_name, text) => {
    expect(oursOf(text)).toEqual(await podmanReads(text));
  });

  it('random valid files (comments, other tables, duplicates, CRLF)', async () => {
    const files = fc.sample(registriesConfFile, { numRuns: 20, seed: 20261201 });
    for (const file of files) {
      const ours = oursOf(file.text);
      expect(ours.error).toBeUndefined();
      expect({ file: file.text, ...ours }).toEqual({ file: file.text, ...(await podmanReads(file.text)) });
    }
  });
});
