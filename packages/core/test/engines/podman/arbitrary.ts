/**
 * fast-check arbitraries for valid registries.conf v2 files as people write them: comments and blank lines
 * anywhere, top-level keys, `[[registry]]` tables with and without prefix, mirrors with comments between their
 * keys, `[aliases]` and unknown tables, LF or CRLF, a final newline or none, indented keys (no BOM: podman
 * refuses one).
 */
import fc from 'fast-check';

/** Upstreams a generated file mentions; each location has fixed insecure/blocked flags so files stay valid. */
export const UPSTREAMS = ['docker.io', 'ghcr.io', 'quay.io', 'registry.k8s.io', 'docker.io/library', 'localhost:5000'] as const;
const FLAGS: Record<string, { insecure: boolean; blocked: boolean }> = {
  'docker.io': { insecure: false, blocked: false },
  'ghcr.io': { insecure: false, blocked: false },
  'quay.io': { insecure: true, blocked: false },
  'registry.k8s.io': { insecure: false, blocked: true },
  'docker.io/library': { insecure: false, blocked: false },
  'localhost:5000': { insecure: true, blocked: false },
};
/** Mirror locations a generated file lists. */
export const MIRROR_LOCATIONS = ['127.0.0.1:5000', 'mirror.gcr.io', 'cache.corp:8443/docker-hub', '10.0.0.7'] as const;

const comment = fc.constantFrom('# comment', '#', '   # indented note', '# [[registry]] in a comment', '# prefix = "docker.io"');
const blank = fc.constantFrom('', '  ');
const filler = fc.array(fc.oneof(comment, blank), { maxLength: 2 });
const trailing = fc.constantFrom('', '', ' # why', '\t# tab then comment');
const indent = fc.constantFrom('', '', '  ', '\t');

const mirror = fc.record({
  location: fc.constantFrom(...MIRROR_LOCATIONS),
  insecure: fc.constantFrom(undefined, true, false),
  pullFromMirror: fc.constantFrom(undefined, undefined, 'all', 'tag-only'),
  inner: filler,
  after: filler,
  indent,
  trailing,
});

const registry = fc.record({
  location: fc.constantFrom(...UPSTREAMS),
  prefixStyle: fc.constantFrom('none', 'same', 'slash'),
  extraKeys: fc.constantFrom(false, true),
  mirrors: fc.array(mirror, { maxLength: 3 }),
  inner: filler,
  after: filler,
  indent,
  trailing,
});

/** One generated file: its text and what it was built from. */
export interface GeneratedFile {
  text: string;
  eol: '\n' | '\r\n';
  bom: boolean;
}

/** A valid registries.conf v2 file. */
export const registriesConfFile: fc.Arbitrary<GeneratedFile> = fc
  .record({
    eol: fc.constantFrom('\n' as const, '\r\n' as const),
    bom: fc.constant(false),
    finalNewline: fc.boolean(),
    head: filler,
    search: fc.option(fc.subarray(['docker.io', 'quay.io', 'localhost:5000'])),
    mode: fc.option(fc.constantFrom('enforcing', 'permissive', 'disabled')),
    registries: fc.array(registry, { maxLength: 5 }),
    aliases: fc.boolean(),
    other: fc.boolean(),
  })
  .map((f) => {
    const lines: string[] = [...f.head];
    if (f.search) lines.push(`unqualified-search-registries = ${JSON.stringify(f.search)}`);
    if (f.mode) lines.push(`short-name-mode = "${f.mode}" # mode`);
    if (f.other) lines.push('', '[engine-notes]', 'owner = "ops" # unknown to podman', 'ticket = 42');
    for (const r of f.registries) {
      const flags = FLAGS[r.location] as { insecure: boolean; blocked: boolean };
      lines.push('[[registry]]' + r.trailing);
      if (r.prefixStyle !== 'none') lines.push(`${r.indent}prefix = "${r.location}${r.prefixStyle === 'slash' ? '/' : ''}"`);
      lines.push(...r.inner, `${r.indent}location = "${r.location}"${r.trailing}`);
      if (flags.insecure) lines.push(`${r.indent}insecure = true`);
      if (flags.blocked || r.extraKeys) lines.push(`${r.indent}blocked = ${flags.blocked}`);
      if (r.extraKeys) lines.push(`${r.indent}x-unknown = [1, 2]`);
      lines.push(...r.after);
      for (const m of r.mirrors) {
        lines.push(`${m.indent}[[registry.mirror]]`, ...m.inner, `${m.indent}location = "${m.location}"${m.trailing}`);
        if (m.insecure !== undefined) lines.push(`${m.indent}insecure = ${m.insecure}`);
        if (m.pullFromMirror) lines.push(`${m.indent}pull-from-mirror = "${m.pullFromMirror}"`);
        lines.push(...m.after);
      }
    }
    if (f.aliases) lines.push('[aliases]', '"alpine" = "docker.io/library/alpine"');
    let text = lines.join(f.eol);
    if (f.finalNewline && text !== '') text += f.eol;
    return { text: (f.bom ? '\uFEFF' : '') + text, eol: f.eol, bom: f.bom };
  });
