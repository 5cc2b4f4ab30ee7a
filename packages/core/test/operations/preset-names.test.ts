// A mirror argument is read once, at the edge: a preset first, so a user preset named like a host
// (`corp.cache`) is the preset `presets` lists; only something that is no preset and looks like an address
// gets dockerd's "no scheme" refusal.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addMirror } from '../../src/operations/mirrors.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-preset-names-'));
  await writeFile(path.join(dir, 'presets.json'), '{ "corp.cache": { "url": "https://cache.corp.example" } }\n');
});
afterEach(() => rm(dir, { recursive: true, force: true }));
const opts = (mirror: string) => ({ ...isolated(dir), mirror, configFile: path.join(dir, 'daemon.json'), stateDir: path.join(dir, 'state'), presetsFile: path.join(dir, 'presets.json'), apply: 'none' as const });

describe('a preset named like a host', () => {
  it('is added as the preset it is', async () => {
    const result = await addMirror(opts('corp.cache'));
    expect(result.target).toMatchObject({ url: 'https://cache.corp.example', preset: 'corp.cache' });
    expect(JSON.parse(await readFile(path.join(dir, 'daemon.json'), 'utf8'))).toEqual({ 'registry-mirrors': ['https://cache.corp.example'] });
  });

  it('an address that is no preset is refused as dockerd would: no scheme, exit 2', async () => {
    await expect(addMirror(opts('127.0.0.1:5000'))).rejects.toMatchObject({ code: 'INVALID_MIRROR', message: expect.stringContaining('no scheme') });
  });
});
