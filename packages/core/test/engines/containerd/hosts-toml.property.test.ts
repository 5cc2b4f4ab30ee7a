/**
 * Property tests of the hosts.toml editor on random valid files: comments everywhere, keys containerd ignores,
 * other tables, subtables, multi-line arrays, CRLF, a BOM, with or without a final line ending.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkProducedHosts, parseHostsToml, planHostsAdd, planHostsRemove, settingsOf } from '../../../src/engines/containerd/hosts-toml.js';

const FILE = '/c/certs.d/docker.io/hosts.toml';

const comment = fc.stringMatching(/^[a-z #"=\[\].]{0,20}$/).map((s) => `# ${s}`);
const maybeComment = fc.option(comment.map((c) => ` ${c}`), { nil: '' });
const hostUrl = fc.tuple(fc.constantFrom('http', 'https'), fc.integer({ min: 1, max: 40 }), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
  .map(([scheme, n, port]) => `${scheme}://m${n}.example.com${port ? `:${port}` : ''}`);

/** Lines of a host table's body (each a list of physical lines). */
const bodyLine = fc.oneof(
  fc.constantFrom(['capabilities = ["pull", "resolve"]'], ['capabilities = ["pull"]'], ['capabilities = [', '  "pull",', '  "resolve", # why', ']']),
  fc.constantFrom(['skip_verify = true'], ['ca = "/etc/ca.crt"'], ['ca = ["a.crt", "b.crt"]'], ['override_path = false'], ['other = 3']),
  comment.map((c) => [c]),
  fc.constant(['']),
);

interface Table { header: string; body: string[][]; sub: boolean }
const table = (key: string): fc.Arbitrary<Table> =>
  fc.record({ indent: fc.constantFrom('', '  ', '    ', '\t'), body: fc.uniqueArray(bodyLine, { maxLength: 4, selector: (lines) => (/^\w+ = /.test(lines[0] as string) ? (lines[0] as string).split(' = ')[0] : JSON.stringify(lines)) }), sub: fc.boolean(), trail: maybeComment, lead: fc.array(fc.oneof(comment, fc.constant('')), { maxLength: 2 }) })
    .map(({ indent, body, sub, trail, lead }) => ({
      header: [...lead, `[${key}]${trail}`].join('\n'),
      body: body.map((lines) => lines.map((l) => (l === '' ? l : indent + l))),
      sub,
    }));

const file = fc
  .record({
    top: fc.array(fc.oneof(comment, fc.constant('')), { maxLength: 3 }),
    server: fc.option(fc.constantFrom('server = "https://registry-1.docker.io"', 'server = "registry-1.docker.io"'), { nil: undefined }),
    serverComment: maybeComment,
    rootKeys: fc.array(fc.constantFrom('unknown = 1', 'capabilities = ["pull", "resolve"]', 'skip_verify = false', 'misc = { a = [1, 2] }'), { maxLength: 2 }),
    urls: fc.uniqueArray(hostUrl, { maxLength: 4, selector: (u) => u.toLowerCase() }),
    otherTable: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
    eol: fc.constantFrom('\n', '\r\n'),
    finalEol: fc.boolean(),
    bom: fc.boolean(),
  })
  .chain((f) => fc.tuple(fc.constant(f), fc.tuple(...f.urls.map((u) => table(`host.${JSON.stringify(u)}`))), fc.tuple(...f.urls.map(() => fc.boolean()))))
  .map(([f, tables, withHeaders]) => {
    const lines: string[] = [...f.top];
    if (f.server) lines.push(f.server + f.serverComment);
    lines.push(...new Set(f.rootKeys));
    const subs: string[] = [];
    tables.forEach((t, i) => {
      if (f.otherTable === i) lines.push('', '[header]', '  x-other = "1"', '');
      lines.push(t.header, ...t.body.flat());
      if (withHeaders[i]) subs.push(`[host.${JSON.stringify(f.urls[i])}.header]`, '  x = ["a", "b"]', '');
    });
    if (f.otherTable !== undefined && f.otherTable >= tables.length) lines.push('[header]', '  x-other = "1"');
    lines.push(...subs);
    let text = lines.join(f.eol);
    if (f.finalEol) text += f.eol;
    return { bytes: Buffer.from((f.bom ? '\uFEFF' : '') + text), urls: f.urls, finalEol: text === '' || text.endsWith('\n') };
  });

const newMirror = fc.tuple(fc.constantFrom('http', 'https'), fc.integer({ min: 41, max: 60 })).map(([s, n]) => ({ url: `${s}://new${n}.example.com`, plainHttp: s === 'http' }));

/** `after` is `before` with one contiguous run of bytes inserted (or, swapped, deleted). */
function oneSplice(before: Buffer, after: Buffer): { at: number; inserted: Buffer } {
  let prefix = 0;
  while (prefix < before.length && prefix < after.length && before[prefix] === after[prefix]) prefix++;
  let suffix = 0;
  while (suffix < before.length - prefix && suffix < after.length - prefix && before[before.length - 1 - suffix] === after[after.length - 1 - suffix]) suffix++;
  expect(prefix + suffix).toBe(before.length);
  return { at: prefix, inserted: after.subarray(prefix, after.length - suffix) };
}

describe('hosts.toml edits on random files', () => {
  it('the generator makes files containerd would read, with the hosts in order', () => {
    fc.assert(fc.property(file, ({ bytes, urls }) => {
      expect(settingsOf(parseHostsToml(FILE, bytes, { registry: 'docker.io' })).mirrors.map((m) => m.url)).toEqual(urls);
    }), { numRuns: 300 });
  });

  it('an add inserts one run of bytes, parses strictly, and puts the mirror first or last', () => {
    fc.assert(fc.property(file, newMirror, fc.constantFrom('first' as const, 'last' as const), ({ bytes, urls }, mirror, position) => {
      const before = parseHostsToml(FILE, bytes, { registry: 'docker.io' });
      const out = planHostsAdd(before, { mirror, position }) as Buffer;
      const blank = before.text.trim() === '';
      if (!blank) oneSplice(bytes, out);
      const after = checkProducedHosts(before, out);
      const expected = position === 'first' ? [mirror.url, ...urls] : [...urls, mirror.url];
      expect(settingsOf(after).mirrors.map((m) => m.url)).toEqual(expected);
      expect(planHostsAdd(after, { mirror, position })).toBeUndefined();
    }), { numRuns: 500 });
  });

  it('a remove deletes only that host\'s tables, and parses strictly', () => {
    fc.assert(fc.property(file.filter((f) => f.urls.length > 0), fc.nat(), ({ bytes, urls }, pick) => {
      const url = urls[pick % urls.length] as string;
      const before = parseHostsToml(FILE, bytes, { registry: 'docker.io' });
      const out = planHostsRemove(before, url) as Buffer;
      const after = checkProducedHosts(before, out);
      expect(settingsOf(after).mirrors.map((m) => m.url)).toEqual(urls.filter((u) => u !== url));
      const tables = before.hosts.find((h) => h.key === url)?.tables.length;
      if (tables === 1) oneSplice(out, bytes);
      expect(planHostsRemove(after, url)).toBeUndefined();
    }), { numRuns: 500 });
  });

  it('add then remove gives back the original bytes, except a file that had no final line ending or was blank', () => {
    let identical = 0;
    fc.assert(fc.property(file, newMirror, fc.constantFrom('first' as const, 'last' as const), ({ bytes, finalEol }, mirror, position) => {
      const before = parseHostsToml(FILE, bytes, { registry: 'docker.io' });
      const added = checkProducedHosts(before, planHostsAdd(before, { mirror, position }) as Buffer);
      const back = planHostsRemove(added, mirror.url) as Buffer;
      checkProducedHosts(added, back);
      const blank = before.text.trim() === '';
      if (blank) return;
      if (back.equals(bytes)) {
        identical++;
        return;
      }
      // The one exception: a table appended to a file that did not end with a line ending gave it one.
      expect(finalEol).toBe(false);
      expect(back.toString()).toBe(bytes.toString() + before.eol);
    }), { numRuns: 500 });
    expect(identical).toBeGreaterThan(200);
  });
});
