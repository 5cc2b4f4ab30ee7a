/**
 * registries.conf (containers-registries.conf(5), format v2) as a document: read as strictly as containers/image
 * 5.23 (podman 4.3) reads it, its meaning per `[[registry]]` table, and the byte-exact edits that add or remove
 * one mirror of one upstream registry. Every edit is a splice at the syntax tree's ranges, so comments, other
 * tables, the BOM and the line endings outside it stay byte for byte.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AST } from 'toml-eslint-parser';
import type { Position } from '../../config/edit.js';
import { BugError, InvalidConfigError, InvalidMirrorError, producedBug, UsageError } from '../../errors.js';
import { parseTomlDocument, tomlBytes, type TomlDocument } from '../../support/toml.js';
import { validateTables } from './registries-validate.js';
import type { RegistryMirrorSettings, RegistryTableSettings } from './settings.js';

export type { RegistryMirrorSettings, RegistryTableSettings } from './settings.js';

/** One `[[registry]]` table of a file: its meaning and where it is written. */
export interface RegistryTableEntry {
  /** What the table means. */
  settings: RegistryTableSettings;
  /** 1-based line where the table starts. */
  line: number;
  /** The `[[registry]]` table, when written as one (not as an inline `registry = [...]`). */
  table: AST.TOMLTable | undefined;
  /** Its `[[registry.mirror]]` tables in file order, or `undefined` when its mirrors are an inline array. */
  mirrorTables: AST.TOMLTable[] | undefined;
}

/** A registries.conf read strictly. */
export interface RegistriesConfDocument {
  /** The file read (for messages). */
  file: string;
  /** The TOML document (bytes, text, syntax tree, line ending, BOM). */
  toml: TomlDocument;
  /** Every `[[registry]]` table in file order; a later one with a prefix already seen is ignored by podman. */
  registries: RegistryTableEntry[];
}

/** Bytes beyond which a registries.conf is refused: real ones are a few KiB. */
export const MAX_REGISTRIES_CONF_BYTES = 4 * 1024 * 1024;

/**
 * Parses registries.conf as podman 4.3 would and refuses what it would refuse: invalid TOML, a wrong type
 * (`location = 5`), a scheme in a location, a v1/v2 mix, bad `pull-from-mirror` values. A v1 file
 * (`[registries.search]`…) is refused too, although podman converts one it finds as the main file: dockmirror
 * edits only v2, and the hint says how to convert. So is a UTF-8 BOM, which podman's decoder stops at. Throws {@link InvalidConfigError} with `file:line:column`.
 */
export function parseRegistriesConf(file: string, bytes: Buffer, options: { exists?: boolean } = {}): RegistriesConfDocument {
  const toml = parseTomlDocument(file, bytes, { ...(options.exists === undefined ? {} : { exists: options.exists }), what: 'podman' });
  if (toml.bom) {
    // containers/image's TOML decoder (BurntSushi, podman 4.3) stops at a BOM: such a file already breaks podman.
    throw new InvalidConfigError(`${file}:1:1: the file starts with a UTF-8 byte order mark, which podman refuses ("expected '.' or '='").`, {
      location: { file, line: 1, column: 1 },
      hint: `Save ${file} as UTF-8 without a BOM (e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' ${file}), then run dockmirror again.`,
    });
  }
  const nodes = tableNodes(toml.ast);
  const settings = validateTables(toml);
  const registries = settings.map((s, index): RegistryTableEntry => {
    const table = nodes.registryTables[index];
    const node = table ?? nodes.inlineRegistry;
    return {
      settings: s,
      line: node?.loc.start.line ?? 1,
      table,
      mirrorTables: table && !nodes.inlineMirrors.has(index) ? (nodes.mirrorTables.get(index) ?? []) : undefined,
    };
  });
  return { file, toml, registries };
}

/** The meaning of every `[[registry]]` table of a file, in file order. */
export function settingsOf(doc: RegistriesConfDocument): RegistryTableSettings[] {
  return doc.registries.map((entry) => entry.settings);
}

/** A mirror to add: its URL as the user gave it (parsed once at the edge) and whether it speaks plain HTTP. */
export interface RegistriesMirrorInput {
  /** `http://host[:port][/path]` or `https://…`; a bare `host[:port][/path]` is taken as it is. */
  url: string;
  /** The mirror speaks plain HTTP: its table gets `insecure = true`. */
  plainHttp: boolean;
}

/** What {@link planRegistriesAdd} is asked to do. */
export interface RegistriesAddInput {
  /** The upstream registry (the table's prefix), e.g. `docker.io` or `ghcr.io`. */
  registry: string;
  /** The mirror. */
  mirror: RegistriesMirrorInput;
  /** Where among the table's mirrors the new one goes (default `first`: it is tried first). */
  position?: Position;
  /**
   * The settings of the table this file's new table replaces (a drop-in overriding an earlier file's table):
   * written into the new table so that the effective config is what the user had, plus the mirror.
   */
  seed?: RegistryTableSettings;
}

/**
 * The location a mirror URL is written as in registries.conf: no scheme (containers/image refuses one), no
 * trailing slash. Throws {@link InvalidMirrorError} for what a location cannot say (credentials, a query).
 */
export function mirrorLocation(url: string): string {
  const rest = url.replace(/^https?:\/\//i, '');
  const fail = (why: string): never => {
    throw new InvalidMirrorError(`Invalid mirror ${JSON.stringify(url)} for registries.conf: ${why}.`, {
      hint: 'Give the mirror as http(s)://host[:port][/path]; registries.conf has no place for credentials, a query or a fragment.',
      details: { mirror: url.slice(0, 2048) },
    });
  };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) fail('a scheme other than http or https');
  if (/[?#@\s"\\]/.test(rest)) fail('credentials, a query, a fragment, a space, a quote or a backslash');
  const location = rest.replace(/\/+$/, '');
  if (location === '' || location.startsWith('/')) fail('no host');
  return location;
}

/** The registry (prefix) as a table names it: no trailing slash; a scheme is refused as podman refuses it. */
function registryPrefix(registry: string): string {
  const prefix = registry.replace(/\/+$/, '');
  if (prefix === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(prefix) || /[\s"\\]/.test(prefix)) {
    throw new UsageError(`Invalid registry ${JSON.stringify(registry)}: give it as host[:port][/namespace], with no scheme.`, {
      hint: 'For example --registry docker.io or --registry ghcr.io.',
    });
  }
  return prefix;
}

/**
 * Plans adding a mirror to the registry's table: finds the first `[[registry]]` whose prefix (or, without one,
 * location) is the registry, or appends `[[registry]] prefix = "R"` with `location = "R"`, and adds a
 * `[[registry.mirror]]` table before the table's other mirrors (or after them with `position: 'last'`). A mirror
 * already listed with the same location gives `undefined` (no change), unless the new one speaks plain HTTP and
 * the listed one lacks `insecure = true`, which is then set.
 * @throws InvalidMirrorError for a URL a location cannot hold; InvalidConfigError when the registries are
 * written as inline arrays, which dockmirror does not rewrite.
 */
export function planRegistriesAdd(doc: RegistriesConfDocument, input: RegistriesAddInput): Buffer | undefined {
  const prefix = registryPrefix(input.registry);
  const location = mirrorLocation(input.mirror.url);
  const insecure = input.mirror.plainHttp;
  const { text, eol } = doc.toml;
  const entry = doc.registries.find((e) => e.settings.prefix === prefix);
  if (entry === undefined) {
    if (doc.registries.some((e) => e.table === undefined)) throw inline(doc, doc.registries[0] as RegistryTableEntry, 'registry');
    const seed = input.seed;
    const mirror = { location, insecure };
    const others = (seed?.mirrors ?? []).filter((m) => m.location !== location);
    const mirrors = input.position === 'last' ? [...others, mirror] : [mirror, ...others];
    const block = renderTable({ ...(seed ?? { location: prefix, insecure: false, blocked: false, mirrorByDigestOnly: false }), prefix, mirrors }, eol);
    const lead = text === '' ? '' : text.endsWith(`${eol}${eol}`) || text.endsWith('\n\n') ? '' : text.endsWith('\n') ? eol : eol + eol;
    return tomlBytes(doc.toml, `${text}${lead}${block}${eol}`);
  }
  if (entry.table === undefined || entry.mirrorTables === undefined) throw inline(doc, entry, entry.table === undefined ? 'registry' : 'mirror');
  const index = entry.settings.mirrors.findIndex((m) => m.location === location);
  if (index !== -1) {
    const listed = entry.settings.mirrors[index] as RegistryMirrorSettings;
    if (!insecure || listed.insecure) return undefined;
    return tomlBytes(doc.toml, setInsecure(text, eol, entry.mirrorTables[index] as AST.TOMLTable));
  }
  const lines = renderMirror({ location, insecure }, eol);
  const last = entry.mirrorTables.at(-1);
  const anchor = lineEnd(text, input.position === 'last' && last ? last.range[1] : entry.table.range[1]);
  return tomlBytes(doc.toml, `${text.slice(0, anchor)}${eol}${eol}${lines}${text.slice(anchor)}`);
}

/**
 * Plans removing a mirror: every `[[registry.mirror]]` table whose location is the mirror's, in the registry's
 * table only when `registry` is given, else in every table. Each goes with its header line and the blank lines
 * before it; comments stay. `undefined` when no table lists the mirror.
 */
export function planRegistriesRemove(doc: RegistriesConfDocument, url: string, options: { registry?: string } = {}): Buffer | undefined {
  const location = mirrorLocation(url);
  const prefix = options.registry === undefined ? undefined : registryPrefix(options.registry);
  const doomed: AST.TOMLTable[] = [];
  const seen = new Set<string>();
  for (const entry of doc.registries) {
    if (prefix !== undefined && entry.settings.prefix !== prefix) continue;
    // podman ignores a later table with a prefix already seen; its mirrors are left as they are.
    if (seen.has(entry.settings.prefix)) continue;
    seen.add(entry.settings.prefix);
    entry.settings.mirrors.forEach((m, i) => {
      if (m.location !== location) return;
      if (entry.mirrorTables === undefined) throw inline(doc, entry, 'mirror');
      doomed.push(entry.mirrorTables[i] as AST.TOMLTable);
    });
  }
  if (doomed.length === 0) return undefined;
  let text = doc.toml.text;
  for (const table of doomed.sort((a, b) => b.range[0] - a.range[0])) {
    const [from, to] = removalSpan(text, table);
    text = text.slice(0, from) + text.slice(to);
  }
  return tomlBytes(doc.toml, text);
}

/**
 * Checks bytes dockmirror produced from `before`: they parse as strictly as any input, and only one registry's
 * mirror list changed (or one table was added, with `registry` its prefix when given). Everything else
 * (other tables, every other key) means the same as before. Throws {@link BugError}
 * otherwise, before anything is written.
 */
export function checkProducedRegistries(before: RegistriesConfDocument, bytes: Buffer, registry?: string): RegistriesConfDocument {
  const bug = (message: string, cause?: unknown): never => {
    throw producedBug(before.file, message, cause);
  };
  let after: RegistriesConfDocument;
  try {
    after = parseRegistriesConf(before.file, bytes);
  } catch (cause) {
    return bug('a file podman would refuse', cause);
  }
  const rest = (doc: RegistriesConfDocument): Record<string, unknown> => Object.fromEntries(Object.entries(doc.toml.value).filter(([k]) => k !== 'registry'));
  if (!isDeepStrictEqual(rest(before), rest(after))) bug('a change outside the [[registry]] tables');
  const old = settingsOf(before);
  const now = settingsOf(after);
  if (now.length < old.length || now.length > old.length + 1) bug('a different number of [[registry]] tables');
  const changed: string[] = [];
  old.forEach((o, i) => {
    const n = now[i] as RegistryTableSettings;
    if (!isDeepStrictEqual({ ...o, mirrors: [] }, { ...n, mirrors: [] })) bug(`a change to the settings of the registry ${o.prefix}`);
    if (!isDeepStrictEqual(o.mirrors, n.mirrors)) changed.push(o.prefix);
  });
  if (now.length > old.length) changed.push((now.at(-1) as RegistryTableSettings).prefix);
  if (changed.length > 1) bug(`changes to the mirrors of more than one registry (${changed.join(', ')})`);
  const target = registry === undefined ? undefined : registryPrefix(registry);
  if (target !== undefined && changed.length === 1 && changed[0] !== target) bug(`a change to the registry ${String(changed[0])} instead of ${target}`);
  return after;
}

/**
 * Things to tell the user about the registry's effective table that the mirror alone does not settle:
 * a table with a longer prefix (`docker.io/library` against `docker.io`) takes the images under it, so the
 * mirror does not apply there; `blocked` stops every pull; `mirror-by-digest-only` skips the mirror for tags.
 */
export function registryNotes(tables: readonly RegistryTableSettings[], registry: string): string[] {
  const prefix = registryPrefix(registry);
  const notes: string[] = [];
  for (const t of tables) {
    if (t.prefix.length > prefix.length && t.prefix.startsWith(prefix) && '/:@'.includes(t.prefix[prefix.length] as string)) {
      notes.push(`The [[registry]] with prefix "${t.prefix}" takes images under it (the longest prefix wins), so the mirror is not used for them; add the mirror there too, with the path after ${prefix}.`);
    }
    if (t.prefix !== prefix) continue;
    if (t.blocked) notes.push(`The [[registry]] for ${prefix} has blocked = true: podman refuses every pull from it, mirror or not.`);
    if (t.mirrorByDigestOnly) notes.push(`The [[registry]] for ${prefix} has mirror-by-digest-only = true: the mirror is used for pulls by digest only, not by tag.`);
  }
  return notes;
}

function inline(doc: RegistriesConfDocument, entry: RegistryTableEntry, what: 'registry' | 'mirror'): InvalidConfigError {
  const written = what === 'registry' ? '"registry = [...]"' : '"mirror = [...]"';
  return new InvalidConfigError(`${doc.file}:${entry.line}:1: the registries are written as an inline array (${written}), which dockmirror does not rewrite.`, {
    location: { file: doc.file, line: entry.line, column: 1 },
    hint: `Write them as [[registry]] and [[registry.mirror]] tables (same meaning to podman), then run dockmirror again.`,
  });
}

/** The text of a `[[registry]]` table with its mirrors, lines joined by `eol`, no final line ending. */
function renderTable(t: RegistryTableSettings, eol: string): string {
  const lines = ['[[registry]]', `prefix = ${quote(t.prefix)}`, `location = ${quote(t.location)}`];
  if (t.insecure) lines.push('insecure = true');
  if (t.blocked) lines.push('blocked = true');
  if (t.mirrorByDigestOnly) lines.push('mirror-by-digest-only = true');
  return [lines.join(eol), ...t.mirrors.map((m) => renderMirror(m, eol))].join(eol + eol);
}

function renderMirror(m: RegistryMirrorSettings, eol: string): string {
  const lines = ['[[registry.mirror]]', `location = ${quote(m.location)}`];
  if (m.insecure) lines.push('insecure = true');
  if (m.pullFromMirror) lines.push(`pull-from-mirror = ${quote(m.pullFromMirror)}`);
  return lines.join(eol);
}

/** A TOML basic string: JSON's escapes are all valid TOML escapes. */
function quote(value: string): string {
  return JSON.stringify(value);
}

/** `insecure = true` in a mirror table: its `insecure = false` value replaced, or a line added after the table. */
function setInsecure(text: string, eol: string, table: AST.TOMLTable): string {
  const kv = table.body.find((k) => keyName(k) === 'insecure');
  if (kv) return `${text.slice(0, kv.value.range[0])}true${text.slice(kv.value.range[1])}`;
  const anchor = lineEnd(text, table.range[1]);
  return `${text.slice(0, anchor)}${eol}insecure = true${text.slice(anchor)}`;
}

function keyName(kv: AST.TOMLKeyValue): string {
  return kv.key.keys.map((k) => (k.type === 'TOMLBare' ? k.name : k.value)).join('.');
}

/** The offset of the end of the line holding `offset` (before its `\r\n` or `\n`), past any trailing comment. */
function lineEnd(text: string, offset: number): number {
  const lf = text.indexOf('\n', offset);
  if (lf === -1) return text.length;
  return text[lf - 1] === '\r' ? lf - 1 : lf;
}

/**
 * What removing a mirror table cuts: from the end of the last non-blank line before its header (so the blank
 * lines before it go, and the line ending that led into them) to the end of its last line. The inverse of the
 * insertion in {@link planRegistriesAdd}. At the top of the file, the line endings after it go instead.
 */
function removalSpan(text: string, table: AST.TOMLTable): [number, number] {
  let start = text.lastIndexOf('\n', table.range[0] - 1) + 1;
  let end = lineEnd(text, table.range[1]);
  for (;;) {
    if (start === 0) break;
    const prev = text.lastIndexOf('\n', start - 2) + 1;
    if (text.slice(prev, start).trim() !== '') break;
    start = prev;
  }
  if (start === 0) {
    const after = /^(?:[ \t]*\r?\n)*/.exec(text.slice(end));
    end += after?.[0].length ?? 0;
    return [0, end];
  }
  const cut = text[start - 2] === '\r' ? start - 2 : start - 1;
  return [cut, end];
}

/** Where the registry tables sit in the syntax tree (built by the document reader). */
interface TableNodes {
  /** `[[registry]]` tables by array index. */
  registryTables: AST.TOMLTable[];
  /** `[[registry.mirror]]` tables by registry index, then mirror index. */
  mirrorTables: Map<number, AST.TOMLTable[]>;
  /** Registry indexes whose mirrors are an inline `mirror = [...]`. */
  inlineMirrors: Set<number>;
  /** A top-level `registry = [...]`, when the registries are written inline. */
  inlineRegistry: AST.TOMLKeyValue | undefined;
}

/** Where each `[[registry]]` and `[[registry.mirror]]` table sits in the syntax tree. */
function tableNodes(ast: AST.TOMLProgram): TableNodes {
  const nodes: TableNodes = { registryTables: [], mirrorTables: new Map(), inlineMirrors: new Set(), inlineRegistry: undefined };
  const top = ast.body[0];
  for (const item of top?.body ?? []) {
    if (item.type === 'TOMLKeyValue') {
      if (keyName(item) === 'registry') nodes.inlineRegistry = item;
      continue;
    }
    const key = item.resolvedKey;
    if (key[0] !== 'registry' || typeof key[1] !== 'number') continue;
    if (key.length === 2 && item.kind === 'array') {
      nodes.registryTables[key[1]] = item;
      if (item.body.some((kv) => keyName(kv) === 'mirror')) nodes.inlineMirrors.add(key[1]);
    } else if (key.length === 4 && key[2] === 'mirror' && typeof key[3] === 'number' && item.kind === 'array') {
      const list = nodes.mirrorTables.get(key[1]) ?? [];
      list[key[3]] = item;
      nodes.mirrorTables.set(key[1], list);
    }
  }
  return nodes;
}
