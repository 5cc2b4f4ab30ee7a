// Deep nesting: dockerd reads daemon.json nested up to 10,000 levels. dockmirror reads and edits up to
// MAX_DEPTH (1,000) like any other file, and refuses anything deeper with its position (INVALID_CONFIG, the file
// untouched) instead of overflowing the stack into "Unexpected error" (exit 1); past 10,000 it says dockerd
// refuses the file too.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DOCKERD_MAX_DEPTH, MAX_DEPTH, firstTooDeep, parseDaemonConfig } from '../../src/config/document.js';
import { InvalidConfigError } from '../../src/errors.js';
import { addMirror, removeMirror } from '../../src/operations/mirrors.js';
import { rollback } from '../../src/operations/rollback.js';
import { tempDir } from './preserve.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
let done: () => Promise<void>;
let file: string;
let stateDir: string;
beforeEach(async () => {
  ({ dir, done } = await tempDir('dm-depth-'));
  file = path.join(dir, 'daemon.json');
  stateDir = path.join(dir, 'state');
});
afterEach(() => done());

const opts = () => ({ ...isolated(dir), configFile: file, stateDir, apply: 'none' as const });

/** A daemon.json whose "labels-deep" value is nested so that the whole file is `levels` deep. */
function deepFile(levels: number, kind: 'object' | 'array' = 'object'): string {
  const inner = levels - 1; // the root object is the first level
  const value = kind === 'object' ? `${'{"a":'.repeat(inner)}1${'}'.repeat(inner)}` : `${'['.repeat(inner)}${']'.repeat(inner)}`;
  return `{\n  "debug": true,\n  "deep": ${value}\n}\n`;
}

/** Offset of the `n`th opening bracket of the deep value (1 = the root). */
const bracketOffset = (text: string, n: number) => (n === 1 ? 0 : text.indexOf('"deep": ') + 8 + (n - 2) * (text.includes('{"a":') ? 5 : 1));

describe('firstTooDeep', () => {
  it('counts only brackets outside strings, escapes included', () => {
    expect(firstTooDeep('{"a": "[[[[[[[[[[[[[[[[[[[[[\\"[[[["}', 2)).toBe(-1);
    expect(firstTooDeep('{"a\\\\": [[1]]}', 2)).toBe(9);
    expect(firstTooDeep('[[]]', 2)).toBe(-1);
    expect(firstTooDeep('[[[]]]', 2)).toBe(2);
  });

  it('agrees with the depth of any JSON value', () => {
    const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 8 }), (value, limit) => {
        const text = JSON.stringify(value, null, 1);
        expect(firstTooDeep(text, limit) === -1).toBe(depthOf(value) <= limit || text.length <= limit);
      }),
    );
  });
});

describe(`a daemon.json nested ${MAX_DEPTH} levels`, () => {
  for (const kind of ['object', 'array'] as const) {
    it(`(${kind}s) is read, edited, and rolled back like any other`, async () => {
      const text = deepFile(MAX_DEPTH, kind);
      await writeFile(file, text);
      expect(parseDaemonConfig(file, Buffer.from(text)).mirrors).toBeUndefined();
      const added = await addMirror({ ...opts(), mirror: 'https://mirror.example' });
      expect(added.changed).toBe(true);
      const after = await readFile(file, 'utf8');
      expect(after).toContain(text.slice(text.indexOf('"deep"'), text.lastIndexOf('\n}')));
      expect((JSON.parse(after) as { 'registry-mirrors': string[] })['registry-mirrors']).toEqual(['https://mirror.example']);
      await removeMirror({ ...opts(), mirror: 'https://mirror.example' });
      expect(await readFile(file, 'utf8')).not.toBe(after);
      await rollback(opts()); // undoes the removal
      expect(await readFile(file, 'utf8')).toBe(after);
    });
  }

  it('finds a duplicate key at the bottom, at its position', () => {
    const inner = MAX_DEPTH - 2;
    const text = `{"a":${'{"a":'.repeat(inner)}{"k":1,"k":2}${'}'.repeat(inner)}}`;
    const error = (() => {
      try {
        parseDaemonConfig(file, Buffer.from(text));
      } catch (e) {
        return e as InvalidConfigError;
      }
    })();
    expect(error?.message).toBe(`${file}:1:${text.indexOf('"k":2') + 1}: duplicate key "k"`);
  });
});

describe('a deeper daemon.json is refused with the first bracket too deep, and left untouched', () => {
  const cases: Array<[number, 'object' | 'array', number, RegExp]> = [
    [MAX_DEPTH + 1, 'object', MAX_DEPTH + 1, /nested deeper than 1000 levels$/],
    [5_000, 'array', MAX_DEPTH + 1, /nested deeper than 1000 levels$/],
    [DOCKERD_MAX_DEPTH, 'object', MAX_DEPTH + 1, /nested deeper than 1000 levels$/],
    [DOCKERD_MAX_DEPTH + 1, 'array', DOCKERD_MAX_DEPTH + 1, /nested deeper than 10000 levels \(dockerd refuses it too\)$/],
    [100_000, 'object', DOCKERD_MAX_DEPTH + 1, /nested deeper than 10000 levels \(dockerd refuses it too\)$/],
  ];
  it.each(cases)('%i levels of %ss', async (levels, kind, firstBad, message) => {
    const text = deepFile(levels, kind);
    await writeFile(file, text);
    const column = bracketOffset(text, firstBad) - text.indexOf('  "deep"') + 1;
    let error: unknown;
    try {
      parseDaemonConfig(file, Buffer.from(text));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).message).toMatch(message);
    expect((error as InvalidConfigError).message.startsWith(`${file}:3:${column}: `)).toBe(true);
    expect((error as InvalidConfigError).location).toEqual({ file, line: 3, column });
    expect((error as InvalidConfigError).hint).toMatch(levels > DOCKERD_MAX_DEPTH ? /no value may be nested more than 10000/ : /at most 1000 levels deep \(dockerd allows 10000\)/);

    await expect(addMirror({ ...opts(), mirror: 'https://mirror.example' })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    await expect(removeMirror({ ...opts(), mirror: 'https://mirror.example' })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    expect(await readFile(file, 'utf8')).toBe(text);
    const backups = await readdir(path.join(stateDir, 'backups')).catch(() => []);
    expect(backups).toEqual([]);
  });
});
