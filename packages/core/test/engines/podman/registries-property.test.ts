// Property tests of the registries.conf edit: random valid files with one add or one remove keep every byte
// outside the edit, parse strictly afterwards, and mean what they meant plus (or minus) the one mirror.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkProducedRegistries,
  mirrorLocation,
  parseRegistriesConf,
  planRegistriesAdd,
  planRegistriesRemove,
  settingsOf,
  type RegistriesConfDocument,
} from '../../../src/engines/podman/registries-conf.js';
import { MIRROR_LOCATIONS, registriesConfFile, UPSTREAMS, type GeneratedFile } from './arbitrary.js';

const FILE = '/etc/containers/registries.conf';
const parse = (bytes: Buffer): RegistriesConfDocument => parseRegistriesConf(FILE, bytes);
const RUNS = { numRuns: 400 };

const mirrorUrl = fc.oneof(
  fc.constantFrom(...MIRROR_LOCATIONS).chain((l) => fc.constantFrom(`http://${l}`, `https://${l}`, `http://${l}/`)),
  fc.constantFrom('http://127.0.0.1:5999', 'https://new.mirror.example/v2-cache'),
);
const registryName = fc.constantFrom(...UPSTREAMS, 'registry.example:8443');

describe('add, on random valid files', () => {
  it('parses strictly after, changes only that registry\'s mirrors, and remove gives back the bytes', () => {
    fc.assert(
      fc.property(registriesConfFile, registryName, mirrorUrl, fc.constantFrom('first' as const, 'last' as const), (file: GeneratedFile, registry, url, position) => {
        const bytes = Buffer.from(file.text, 'utf8');
        const before = parse(bytes);
        const plainHttp = url.startsWith('http://');
        const out = planRegistriesAdd(before, { registry, mirror: { url, plainHttp }, position });
        const old = settingsOf(before);
        const index = old.findIndex((t) => t.prefix === registry);
        const location = mirrorLocation(url);
        const listed = index === -1 ? undefined : old[index]?.mirrors.find((m) => m.location === location);
        if (out === undefined) {
          // Only when the mirror is already there with what it needs.
          expect(listed).toBeDefined();
          expect(!plainHttp || listed?.insecure).toBe(true);
          return;
        }
        const after = checkProducedRegistries(before, out, registry);
        const now = settingsOf(after);
        // The BOM and the line ending stay; no line ending of the other kind appears.
        expect(out.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(file.bom);
        // (A file without any line ending has none to keep: new lines get LF.)
        if (file.eol === '\r\n' && file.text.includes('\n')) expect(out.toString('utf8')).not.toMatch(/[^\r]\n/);
        else expect(out.toString('utf8')).not.toContain('\r');
        if (listed) {
          // The listed mirror only gained insecure = true; the text differs by exactly that.
          expect(now[index]?.mirrors.find((m) => m.location === location)?.insecure).toBe(true);
          const grew = out.length - bytes.length;
          expect([-1, `${file.eol}insecure = true`.length]).toContain(grew);
          return;
        }
        const table = index === -1 ? now.at(-1) : now[index];
        const mirrors = table?.mirrors.map((m) => m.location) ?? [];
        expect(position === 'last' ? mirrors.at(-1) : mirrors[0]).toBe(location);
        expect(table?.mirrors.find((m) => m.location === location)).toEqual({ location, insecure: plainHttp });
        // Byte-exactness: removing what add inserted gives the original (plus the empty table add created).
        const back = planRegistriesRemove(after, url, { registry }) as Buffer;
        const eol = before.toml.eol;
        const stub = `[[registry]]${eol}prefix = "${registry}"${eol}location = "${registry}"${eol}`;
        if (index !== -1) {
          expect(back.toString('utf8')).toBe(bytes.toString('utf8'));
        } else {
          const text = back.toString('utf8');
          expect(text.endsWith(stub)).toBe(true);
          const rest = text.slice(0, -stub.length);
          expect(bytes.toString('utf8').startsWith(rest.replace(/(\r?\n)+$/, ''))).toBe(true);
          expect(rest.startsWith(bytes.toString('utf8'))).toBe(true);
        }
      }),
      RUNS,
    );
  });
});

describe('remove, on random valid files', () => {
  it('cuts exactly the mirror\'s tables (with the blank lines before them) and nothing else', () => {
    fc.assert(
      fc.property(registriesConfFile, fc.constantFrom(...MIRROR_LOCATIONS), (file, location) => {
        const bytes = Buffer.from(file.text, 'utf8');
        const before = parse(bytes);
        // podman uses the first table of each prefix in a file; the later ones are left alone.
        const firsts = before.registries.filter((e, i) => before.registries.findIndex((o) => o.settings.prefix === e.settings.prefix) === i);
        const owner = firsts.find((e) => e.settings.mirrors.some((m) => m.location === location));
        const out = planRegistriesRemove(before, `https://${location}`, owner ? { registry: owner.settings.prefix } : {});
        if (!owner) {
          expect(out).toBeUndefined();
          return;
        }
        const after = checkProducedRegistries(before, out as Buffer, owner.settings.prefix);
        const firstOfPrefix = owner;
        const index = before.registries.indexOf(owner);
        expect(settingsOf(after)[index]?.mirrors).toEqual(firstOfPrefix?.settings.mirrors.filter((m) => m.location !== location));
        // The expected text, line by line from the original: drop each removed table's lines (header to last
        // key) and the blank lines just before it; keep everything else as it was.
        const text = before.toml.text;
        const lines = text.split(/(?<=\n)/);
        const starts: number[] = [];
        lines.reduce((offset, line) => (starts.push(offset), offset + line.length), 0);
        const lineOf = (offset: number): number => starts.findLastIndex((s) => s <= offset);
        const drop = new Set<number>();
        firstOfPrefix?.settings.mirrors.forEach((m, i) => {
          if (m.location !== location) return;
          const table = firstOfPrefix.mirrorTables?.[i];
          if (!table) throw new Error('no table');
          let first = lineOf(table.range[0]);
          const last = lineOf(table.range[1] - 1);
          while (first > 0 && (lines[first - 1] as string).trim() === '') first--;
          for (let l = first; l <= last; l++) drop.add(l);
        });
        const kept = lines.filter((_, i) => !drop.has(i));
        let expected = kept.join('');
        // A table that ended the file without a line ending takes the one before it along.
        if (drop.has(lines.length - 1) && !text.endsWith('\n') && kept.length > 0) expected = expected.replace(/\r?\n$/, '');
        expect(after.toml.text).toBe(expected);
      }),
      RUNS,
    );
  });
});
