import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { applyEdits, modify } from 'jsonc-parser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDaemonConfig } from '../../src/config/document.js';
import { applyArrayChanges } from '../../src/config/edit.js';
import { validateMirror } from '../../src/mirror/url.js';
import { addMirror, listMirrors, removeMirror } from '../../src/operations/mirrors.js';
import { corpus } from './corpus.js';
import { expectPreserved, meaning, meaningWithLists, outsideEditedArrays, tempDir } from './preserve.js';
import { isolated } from '../support/hermetic.js';

let dir: string;
let done: () => Promise<void>;
let file: string;
beforeEach(async () => {
  ({ dir, done } = await tempDir('dm-edit-'));
  file = path.join(dir, 'daemon.json');
});
afterEach(() => done());

const base = (configFile: string, stateDir: string) => ({ ...isolated(path.dirname(configFile)), configFile, stateDir, apply: 'none' as const });
const opts = () => base(file, path.join(dir, 'state'));
const list = (m: Record<string, unknown>, key: string) => (m[key] as string[] | undefined) ?? [];

describe.each(corpus)('corpus: $name', ({ bytes }) => {
  const old = meaning(bytes);

  it('add https keeps every other byte', async () => {
    await writeFile(file, bytes);
    const result = await addMirror({ ...opts(), mirror: 'https://dm-test.example.com' });
    const after = await readFile(file);
    const mirrors = ['https://dm-test.example.com', ...list(old, 'registry-mirrors')];
    expectPreserved(bytes, after, { mirrors });
    expect(result).toMatchObject({ changed: true, configFile: file, mirrors, insecureRegistries: list(old, 'insecure-registries') });
    expect(result.backup).toMatch(/^\d{8}T\d+Z-[0-9a-f]{6}$/);
  });

  it('add http also adds host:port to insecure-registries; remove restores the meaning', async () => {
    await writeFile(file, bytes);
    await addMirror({ ...opts(), mirror: 'http://127.0.0.1:5999/' });
    const after = await readFile(file);
    expectPreserved(bytes, after, {
      mirrors: ['http://127.0.0.1:5999', ...list(old, 'registry-mirrors')],
      insecure: [...list(old, 'insecure-registries'), '127.0.0.1:5999'],
    });
    const removed = await removeMirror({ ...opts(), mirror: 'http://127.0.0.1:5999' });
    expect(removed.changed).toBe(true);
    const final = await readFile(file);
    expect(meaningWithLists(final)).toEqual(meaningWithLists(bytes));
    expectPreserved(bytes, final, { mirrors: list(old, 'registry-mirrors'), insecure: list(old, 'insecure-registries') });
    // With both lists already in the file, add then remove is the identity on bytes.
    if (old['registry-mirrors'] && old['insecure-registries']) expect(final.equals(bytes)).toBe(true);
  });

  it('adding twice changes nothing the second time', async () => {
    await writeFile(file, bytes);
    await addMirror({ ...opts(), mirror: 'http://10.9.8.7:5000' });
    const once = await readFile(file);
    const again = await addMirror({ ...opts(), mirror: 'HTTP://10.9.8.7:5000/' });
    expect(again).toMatchObject({ changed: false, backup: null, diff: '' });
    expect((await readFile(file)).equals(once)).toBe(true);
  });

  it('--position last appends', async () => {
    await writeFile(file, bytes);
    await addMirror({ ...opts(), mirror: 'https://last.example.com', position: 'last' });
    expectPreserved(bytes, await readFile(file), { mirrors: [...list(old, 'registry-mirrors'), 'https://last.example.com'] });
  });
});

describe('mirror semantics', () => {
  const write = (text: string) => writeFile(file, text);
  const read = async () => (await readFile(file)).toString('utf8');

  it('a mirror already present in another case or with a trailing slash counts as present', async () => {
    const text = '{\n  "registry-mirrors": ["https://MIRROR.gcr.io"]\n}\n';
    await write(text);
    const result = await addMirror({ ...opts(), mirror: 'https://mirror.gcr.io/' });
    expect(result.changed).toBe(false);
    expect(await read()).toBe(text);
    await write('{"registry-mirrors":["HTTPS://mirror.gcr.io///"]}');
    expect((await addMirror({ ...opts(), mirror: 'https://Mirror.GCR.io' })).changed).toBe(false);
  });

  it('inserts first by default and last with position last, in the file\'s own layout', async () => {
    await write('{\n\t"registry-mirrors": [\n\t\t"https://a.example"\n\t]\n}\n');
    await addMirror({ ...opts(), mirror: 'https://first.example' });
    await addMirror({ ...opts(), mirror: 'https://last.example', position: 'last' });
    expect(await read()).toBe('{\n\t"registry-mirrors": [\n\t\t"https://first.example",\n\t\t"https://a.example",\n\t\t"https://last.example"\n\t]\n}\n');
  });

  it('writes the normalised form: lowercase scheme and host, no trailing slash', async () => {
    await write('{}');
    const result = await addMirror({ ...opts(), mirror: 'HTTPS://Mirror.Example.COM:8443/' });
    expect(result.mirrors).toEqual(['https://mirror.example.com:8443']);
  });

  it('an empty file becomes a pretty new object', async () => {
    await write('');
    await addMirror({ ...opts(), mirror: 'http://127.0.0.1:5000' });
    expect(await read()).toBe('{\n  "registry-mirrors": [\n    "http://127.0.0.1:5000"\n  ],\n  "insecure-registries": [\n    "127.0.0.1:5000"\n  ]\n}\n');
  });

  it('a one-line file stays one line', async () => {
    await write('{"a":1}');
    await addMirror({ ...opts(), mirror: 'http://127.0.0.1:5000' });
    expect(await read()).toBe('{"a":1,"registry-mirrors":["http://127.0.0.1:5000"],"insecure-registries":["127.0.0.1:5000"]}');
  });

  it('an http mirror gets no insecure entry with insecure: false, an https mirror never', async () => {
    await write('{}\n');
    const http = await addMirror({ ...opts(), mirror: 'http://10.0.0.5:5000', insecure: false });
    expect(http.insecureRegistries).toEqual([]);
    expect(meaning(await readFile(file))).toEqual({ 'registry-mirrors': ['http://10.0.0.5:5000'] });
    await addMirror({ ...opts(), mirror: 'https://secure.example:5000' });
    expect(meaning(await readFile(file))['insecure-registries']).toBeUndefined();
  });

  it('an insecure entry the user already had is not duplicated, and stays after remove', async () => {
    await write('{\n  "insecure-registries": ["HTTP://10.0.0.5:5000"]\n}\n');
    const added = await addMirror({ ...opts(), mirror: 'http://10.0.0.5:5000' });
    expect(added.insecureRegistries).toEqual(['HTTP://10.0.0.5:5000']);
    expect((await listMirrors(opts())).ownedInsecureRegistries).toEqual([]);
    await removeMirror({ ...opts(), mirror: 'http://10.0.0.5:5000' });
    expect(meaning(await readFile(file))).toEqual({ 'insecure-registries': ['HTTP://10.0.0.5:5000'], 'registry-mirrors': [] });
  });

  it('remove takes away the insecure entry dockmirror added, and only that one', async () => {
    await write('{\n  "insecure-registries": [\n    "10.0.0.0/8"\n  ]\n}\n');
    await addMirror({ ...opts(), mirror: 'http://reg.example:5000' });
    expect((await listMirrors(opts())).ownedInsecureRegistries).toEqual(['reg.example:5000']);
    await addMirror({ ...opts(), mirror: 'https://other.example' });
    // Ownership carries over from change to change, and is compared in normalised form.
    const removed = await removeMirror({ ...opts(), mirror: 'HTTP://REG.example:5000/' });
    expect(removed.insecureRegistries).toEqual(['10.0.0.0/8']);
    expect(removed.mirrors).toEqual(['https://other.example']);
  });

  it('an insecure entry dockmirror added goes with its http mirror even if an https mirror shares the host, and stays while another http one does', async () => {
    await write('{}\n');
    await addMirror({ ...opts(), mirror: 'http://reg.example:5000' });
    await addMirror({ ...opts(), mirror: 'https://reg.example:5000' });
    const removed = await removeMirror({ ...opts(), mirror: 'http://reg.example:5000' });
    expect(removed.mirrors).toEqual(['https://reg.example:5000']);
    expect(removed.insecureRegistries).toEqual([]);

    await addMirror({ ...opts(), mirror: 'http://reg.example:5000' });
    await addMirror({ ...opts(), mirror: 'http://REG.example:5000/' }); // the same mirror: no change
    expect((await removeMirror({ ...opts(), mirror: 'https://reg.example:5000' })).insecureRegistries).toEqual(['reg.example:5000']);
  });

  it('"registry-mirrors": null reads as an empty list (as dockerd decodes it) and takes an insert in its place', async () => {
    await write('{\n  "registry-mirrors": null,\n  "debug": true\n}\n');
    expect((await listMirrors(opts())).mirrors).toEqual([]);
    await addMirror({ ...opts(), mirror: 'https://a.example' });
    expect(await read()).toBe('{\n  "registry-mirrors": [\n    "https://a.example"\n  ],\n  "debug": true\n}\n');
  });

  it('removing a mirror that is not there changes nothing', async () => {
    const text = '{ "registry-mirrors": [ "https://a.example" ] }';
    await write(text);
    const result = await removeMirror({ ...opts(), mirror: 'https://b.example' });
    expect(result).toMatchObject({ changed: false, backup: null });
    expect(await read()).toBe(text);
    await write('{}');
    expect((await removeMirror({ ...opts(), mirror: 'https://b.example' })).changed).toBe(false);
  });

  it('remove takes every copy of a duplicated mirror', async () => {
    await write('{"registry-mirrors":["https://a.example","https://b.example","https://A.example/"]}');
    await removeMirror({ ...opts(), mirror: 'https://a.example' });
    expect(await read()).toBe('{"registry-mirrors":["https://b.example"]}');
  });

  it('removing the last item of an inline list keeps strict JSON', async () => {
    await write('{"registry-mirrors":["https://a.example","https://b.example"]}');
    await removeMirror({ ...opts(), mirror: 'https://b.example' });
    expect(await read()).toBe('{"registry-mirrors":["https://a.example"]}');
    await write('{\n  "registry-mirrors": ["https://a.example",\n    "https://b.example"\n  ]\n}\n');
    await removeMirror({ ...opts(), mirror: 'https://b.example' });
    expect(await read()).toBe('{\n  "registry-mirrors": ["https://a.example"\n  ]\n}\n');
  });

  it('dry run returns the diff and writes nothing, not even state', async () => {
    const text = '{\r\n  "debug": true\r\n}\r\n';
    await write(text);
    const result = await addMirror({ ...opts(), mirror: 'https://m.example', dryRun: true });
    expect(result).toMatchObject({ changed: true, dryRun: true, backup: null });
    expect(result.diff).toContain('+  "registry-mirrors": [');
    expect(await read()).toBe(text);
    expect(await readdir(dir)).toEqual(['daemon.json']);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Property tests: random content in random layouts.

interface Layout {
  indent: string; // '' lays the whole file on one line
  eol: '\n' | '\r\n';
  bom: boolean;
  finalNewline: boolean;
  colonSpace: boolean;
  inlineArrays: boolean;
  trailing: string;
}

function render(value: unknown, f: Layout, depth = 0): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const pad = (d: number) => f.indent.repeat(d);
  const join = `,${f.trailing}${f.eol}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v) => render(v, f, depth + 1));
    if (!f.indent || f.inlineArrays) return `[${items.join(f.colonSpace ? ', ' : ',')}]`;
    return `[${f.eol}${items.map((i) => pad(depth + 1) + i).join(join)}${f.eol}${pad(depth)}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  const colon = f.colonSpace ? ': ' : ':';
  const props = entries.map(([k, v]) => `${JSON.stringify(k)}${colon}${render(v, f, depth + 1)}`);
  if (!f.indent) return `{${props.join(f.colonSpace ? ', ' : ',')}}`;
  return `{${f.eol}${props.map((p) => pad(depth + 1) + p).join(join)}${f.eol}${pad(depth)}}`;
}

function fileOf(root: Record<string, unknown>, f: Layout): Buffer {
  return Buffer.from(`${f.bom ? '\uFEFF' : ''}${render(root, f)}${f.finalNewline ? f.eol : ''}`, 'utf8');
}

const layoutArb: fc.Arbitrary<Layout> = fc.record({
  indent: fc.constantFrom('', '  ', '    ', '\t', ' ', '\t '),
  eol: fc.constantFrom('\n' as const, '\r\n' as const),
  bom: fc.boolean(),
  finalNewline: fc.boolean(),
  colonSpace: fc.boolean(),
  inlineArrays: fc.boolean(),
  trailing: fc.constantFrom('', '', ' ', '\t  '),
});

const keyArb = fc
  .oneof(fc.string({ maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 5 }), fc.constantFrom('debug', 'log-opts', 'labels', 'runtimes', '1', 'registry-mirror'))
  .filter((k) => k !== 'registry-mirrors' && k !== 'insecure-registries' && k !== '__proto__');
const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z0-9]$/);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
const url = (scheme: string, host: string, p: number | undefined, slash: boolean) => `${scheme}://${host}${p ? `:${p}` : ''}${slash ? '/' : ''}`;
// Existing and added mirrors live on different hosts, so adding never finds its mirror already in the file.
const existingMirror = fc
  .tuple(fc.constantFrom('http', 'https', 'HTTPS'), label, port, fc.boolean())
  .map(([s, l, p, slash]) => url(s, `pre-${l}.example`, p, slash));
const newMirror = fc
  .tuple(fc.constantFrom('http', 'https', 'HTTP'), fc.oneof(label.map((l) => `add-${l}.example`), fc.ipV4()), port, fc.boolean())
  .map(([s, h, p, slash]) => url(s, h, p, slash));
const insecureEntry = fc.oneof(
  fc.tuple(label, port).map(([l, p]) => `pre-${l}.example${p ? `:${p}` : ''}`),
  fc.constantFrom('10.0.0.0/8', '192.168.0.0/16', 'registry.local:5000'),
);

// Values as a file can hold them: fast-check's jsonValue includes -0, which JSON text cannot spell.
const fileValue = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const docArb = fc
  .record({
    others: fc.uniqueArray(fc.tuple(keyArb, fileValue), { selector: ([k]) => k, maxLength: 6 }),
    mirrors: fc.option(fc.array(existingMirror, { maxLength: 3 }), { nil: undefined }),
    insecure: fc.option(fc.array(insecureEntry, { maxLength: 3 }), { nil: undefined }),
    mirrorsAt: fc.nat(),
    insecureAt: fc.nat(),
  })
  .map(({ others, mirrors, insecure, mirrorsAt, insecureAt }) => {
    const entries: Array<[string, unknown]> = [...others];
    if (mirrors) entries.splice(mirrorsAt % (entries.length + 1), 0, ['registry-mirrors', mirrors]);
    if (insecure) entries.splice(insecureAt % (entries.length + 1), 0, ['insecure-registries', insecure]);
    return Object.fromEntries(entries) as Record<string, unknown>;
  });

const RUNS = { numRuns: 60 };

describe('properties', () => {
  let n = 0;
  const fresh = () => {
    n += 1;
    return base(path.join(dir, `c${n}`, 'daemon.json'), path.join(dir, `c${n}`, 'state'));
  };

  it('add then remove keeps the meaning, and touches nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(docArb, layoutArb, newMirror, fc.constantFrom('first' as const, 'last' as const), fc.boolean(), async (root, layout, mirror, position, insecure) => {
        const o = fresh();
        const before = fileOf(root, layout);
        await mkdir(path.dirname(o.configFile), { recursive: true });
        await writeFile(o.configFile, before);
        const v = validateMirror(mirror);
        const oldMirrors = list(root, 'registry-mirrors');
        const oldInsecure = list(root, 'insecure-registries');
        const addsInsecure = v.insecure && insecure && !oldInsecure.some((e) => e.replace(/^https?:\/\//i, '').toLowerCase() === v.host);

        await addMirror({ ...o, mirror, position, insecure });
        const after = await readFile(o.configFile);
        expectPreserved(before, after, {
          mirrors: position === 'first' ? [v.url, ...oldMirrors] : [...oldMirrors, v.url],
          ...(addsInsecure ? { insecure: [...oldInsecure, v.host] } : {}),
        });

        await removeMirror({ ...o, mirror });
        const final = await readFile(o.configFile);
        expect(meaningWithLists(final)).toEqual(meaningWithLists(before));
        expectPreserved(before, final, {
          mirrors: oldMirrors,
          ...(addsInsecure ? { insecure: oldInsecure } : {}),
        });
        if (root['registry-mirrors'] && (root['insecure-registries'] || !addsInsecure)) expect(final.equals(before)).toBe(true);
      }),
      RUNS,
    );
  });

  it('adding twice changes nothing: changed false, same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(docArb, layoutArb, newMirror, fc.constantFrom('first' as const, 'last' as const), async (root, layout, mirror, position) => {
        const o = fresh();
        await mkdir(path.dirname(o.configFile), { recursive: true });
        await writeFile(o.configFile, fileOf(root, layout));
        expect((await addMirror({ ...o, mirror, position })).changed).toBe(true);
        const once = await readFile(o.configFile);
        const again = await addMirror({ ...o, mirror: mirror.toUpperCase().replace(/^HTTP(S?):/, 'http$1:'), position });
        expect(again.changed).toBe(false);
        expect(again.backup).toBeNull();
        expect((await readFile(o.configFile)).equals(once)).toBe(true);
      }),
      RUNS,
    );
  });

  it('other keys survive exactly, whatever whitespace sits between the tokens', async () => {
    // Re-space a compact rendering with arbitrary JSON whitespace between tokens: "odd mixes" of every kind.
    const ws = fc.array(fc.constantFrom('', ' ', '\t', '\n', '\r\n', '  \n\t', ' \r\n  '), { minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(docArb, ws, fc.boolean(), newMirror, async (root, spaces, bom, mirror) => {
        const o = fresh();
        const compact = JSON.stringify(root);
        let i = 0;
        // Whitespace goes only between tokens, never inside strings.
        const text = compact.replace(/"(?:[^"\\]|\\.)*"|[{}[\]:,]/g, (token) => {
          i += 1;
          return /^[{}[\]:,]$/.test(token) ? `${token}${spaces[i % spaces.length]}` : token;
        });
        const before = Buffer.from(`${bom ? '\uFEFF' : ''}${spaces[0]}${text}${spaces[spaces.length - 1]}`, 'utf8');
        await mkdir(path.dirname(o.configFile), { recursive: true });
        await writeFile(o.configFile, before);
        await addMirror({ ...o, mirror });
        const after = await readFile(o.configFile);
        const parsed = JSON.parse(after.toString('utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
        expect(after[0] === 0xef).toBe(bom);
        const emptyObject = Object.keys(root).length === 0;
        expect(outsideEditedArrays(after, emptyObject)).toBe(outsideEditedArrays(before, emptyObject));
        const { 'registry-mirrors': _m, 'insecure-registries': _i, ...rest } = parsed;
        const { 'registry-mirrors': _m2, 'insecure-registries': _i2, ...restBefore } = root;
        expect(rest).toEqual(restBefore);
      }),
      RUNS,
    );
  });
});

describe('removal splices (the strict read\'s nodes, not a second syntax tree)', () => {
  // An array of 1-5 mirrors with the whitespace a hand edit leaves around items and commas.
  const ws = fc.constantFrom('', ' ', '\n    ', '\r\n  ', '\t');
  const file = fc.tuple(fc.array(fc.tuple(ws, fc.webUrl(), ws), { minLength: 1, maxLength: 5 }), ws, fc.boolean()).map(([items, end, other]) => {
    const list = items.map(([a, url, b]) => `${a}${JSON.stringify(url)}${b}`).join(',');
    return `{${other ? '"debug": true, ' : ''}"registry-mirrors": [${list}${end}], "z": [1]}`;
  });

  it('removing any one item leaves the others and every byte outside the array; before the last, the bytes jsonc-parser cuts', () => {
    fc.assert(
      fc.property(file, fc.nat(), (text, at) => {
        const doc = parseDaemonConfig('/etc/docker/daemon.json', Buffer.from(text));
        const mirrors = doc.mirrors as string[];
        const index = at % mirrors.length;
        const out = applyArrayChanges(doc, [{ key: 'registry-mirrors', removeIndex: index }]).toString('utf8');
        const value = JSON.parse(out) as Record<string, unknown>;
        expect(value['registry-mirrors']).toEqual(mirrors.filter((_, i) => i !== index));
        expect(value.z).toEqual([1]);
        const arrayStart = text.indexOf('[');
        expect(out.slice(0, arrayStart)).toBe(text.slice(0, arrayStart));
        expect(out.slice(out.lastIndexOf(']', out.length - 5))).toBe(text.slice(text.lastIndexOf(']', text.length - 5)));
        // The only item, or one before the last: cut as jsonc-parser's modify cuts it.
        if (index < mirrors.length - 1 || mirrors.length === 1) expect(out).toBe(applyEdits(text, modify(text, ['registry-mirrors', index], undefined, {})));
      }),
      { numRuns: 500 },
    );
  });
});
