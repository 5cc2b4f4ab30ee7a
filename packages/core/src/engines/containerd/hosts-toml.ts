/**
 * One registry's hosts.toml (containerd's `config_path/<registry>/hosts.toml`, Docker's certs.d on the
 * containerd image store) as a document: read strictly and type-checked the way containerd's
 * `remotes/docker/config/hosts.go` decodes it (1.6 and 2.x), its meaning as one upstream with ordered mirrors,
 * and edits that splice one `[host."<url>"]` table in or out by the syntax tree's ranges, so every other byte,
 * comment, line ending and the BOM stay as they were.
 */
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { AST } from 'toml-eslint-parser';
import { BugError, InvalidMirrorError, producedBug, UsageError } from '../../errors.js';
import { positionOf } from '../../config/document.js';
import { parseTomlDocument, tomlBytes, type TomlDocument } from '../../support/toml.js';
import type { PlannedWrite } from '../engine.js';
import { checkRegistryName } from './hosts-dir.js';
import { entriesOf, invalidAt, isBlankLine, isCommentLine, lineStart, nextLine, tomlString, tomlType, type TomlEntry } from './toml-nodes.js';

/** What dockmirror writes for a mirror: enough for pulls, never push. */
export const MIRROR_CAPABILITIES = ['pull', 'resolve'] as const;

/** The capabilities containerd gives a host that lists none (2.x adds `referrers`). */
const ALL_CAPABILITIES = ['pull', 'resolve', 'push'];
/** Every capability some containerd accepts; 1.6 refuses `referrers`, 2.x knows it. */
const KNOWN_CAPABILITIES = new Set(['pull', 'resolve', 'push', 'referrers']);

/** The first line of a hosts.toml dockmirror creates. */
export const WRITTEN_BY = '# written by dockmirror';

/** One mirror of a registry, as containerd will dial it. */
export interface HostsMirror {
  /** The `[host."…"]` key with a scheme (containerd adds `https://` to a key without one). */
  url: string;
  /** Dialled as plain HTTP: containerd decides by the `http://` scheme alone. */
  plainHttp: boolean;
  /** What the host is used for, lowercased; containerd's default (all) when the table lists none. */
  capabilities: string[];
}

/** The meaning of one hosts.toml. */
export interface HostsSettings {
  /** The upstream registry the file is for (its folder name). */
  registry: string;
  /** The upstream containerd falls back to after every mirror: `server`, or the registry's default. */
  server: string;
  /** The `[host]` tables in the order containerd tries them. */
  mirrors: HostsMirror[];
}

/** One `host."<key>"` of the file. */
interface HostEntry {
  key: string;
  mirror: HostsMirror;
  /** Its `[host."<key>"]` and `[host."<key>".…]` tables, in file order; empty when not defined by headers. */
  tables: AST.TOMLTable[];
  /** Whether every part of it sits in its own table headers, the only form dockmirror splices. */
  editable: boolean;
  /** Where it is first defined, for messages. */
  offset: number;
}

/** A parsed, type-checked hosts.toml. */
export interface HostsDocument extends TomlDocument {
  /** The registry the file is for. */
  registry: string;
  /** Its hosts in file order. */
  hosts: HostEntry[];
}

/** The largest hosts.toml read: real ones are a few hundred bytes. */
export const MAX_HOSTS_TOML_BYTES = 1024 * 1024;

/**
 * Parses and type-checks `bytes` as the hosts.toml of `registry`. A missing file (`exists: false`) reads as an
 * empty one. Throws {@link InvalidConfigError} with `file:line:column` for anything containerd would fail to
 * decode: bad TOML, `server` not a string, `capabilities` not a list of known names, `skip_verify` not a bool, …
 */
export function parseHostsToml(file: string, bytes: Buffer, options: { registry: string; exists?: boolean }): HostsDocument {
  const registry = checkRegistryName(options.registry);
  const doc = parseTomlDocument(file, bytes, { exists: options.exists ?? true, what: 'containerd' });
  const entries = entriesOf(doc.ast);
  for (const entry of entries) checkEntry(doc, entry);
  return { ...doc, registry, hosts: hostsOf(doc, entries) };
}

/** The registry's upstream when `server` is not set, as containerd's `ConfigureHosts` picks it. */
export function defaultServer(registry: string): string {
  if (registry === 'docker.io') return 'https://registry-1.docker.io';
  const port = /:([0-9]+)$/.exec(registry)?.[1];
  const local = /^(localhost|127\.[0-9.]+|\[::1\])(:|$)/.test(registry);
  return `${local && port !== undefined && port !== '443' ? 'http' : 'https'}://${registry}`;
}

/** The document's meaning: upstream and mirrors in order. */
export function settingsOf(doc: HostsDocument): HostsSettings {
  const server = typeof doc.value.server === 'string' && doc.value.server !== '' ? withScheme(doc.value.server) : defaultServer(doc.registry);
  return { registry: doc.registry, server, mirrors: doc.hosts.map((h) => h.mirror) };
}

/** A mirror to add. */
export interface HostsAdd {
  /** The mirror; `plainHttp` must agree with the URL's scheme, which is what containerd goes by. */
  mirror: { url: string; plainHttp: boolean };
  /** Tried before every other host (default) or after them. */
  position?: 'first' | 'last';
}

/**
 * The file's new bytes with `mirror` added as `[host."<url>"]` with `capabilities = ["pull", "resolve"]`, or
 * `undefined` when the file already has that mirror (at any position). A new or blank file is written from
 * scratch with `server` set to the upstream.
 */
export function planHostsAdd(doc: HostsDocument, change: HostsAdd): Buffer | undefined {
  const url = checkMirrorUrl(change.mirror);
  if (findHost(doc, url)) return undefined;
  refuseHandWritten(doc);
  const { text, eol } = doc;
  const block = tableText(url, bodyIndent(doc), eol);
  if (text.trim() === '') {
    return tomlBytes(doc, `${WRITTEN_BY}${eol}server = ${tomlString(defaultServer(doc.registry))}${eol}${eol}${block}`);
  }
  const tables = hostTables(doc);
  const first = tables[0];
  if ((change.position ?? 'first') === 'first' && first) {
    const at = leadStart(text, lineStart(text, first.range[0]));
    return tomlBytes(doc, text.slice(0, at) + block + eol + text.slice(at));
  }
  const last = tables.at(-1);
  let at = last ? nextLine(text, last.range[1]) : text.length;
  while (at < text.length && isBlankLine(text, at)) at = nextLine(text, at);
  if (at < text.length) return tomlBytes(doc, text.slice(0, at) + block + eol + text.slice(at));
  const end = text.endsWith('\n') ? '' : eol;
  return tomlBytes(doc, text + end + eol + block);
}

/**
 * The file's new bytes without the mirror `url` (its `[host."<url>"]` table and subtables such as `.header`),
 * or `undefined` when the file does not have it. Undoes {@link planHostsAdd} byte for byte.
 */
export function planHostsRemove(doc: HostsDocument, url: string): Buffer | undefined {
  const host = findHost(doc, url);
  if (!host) return undefined;
  refuseHandWritten(doc);
  let text = doc.text;
  for (const table of [...host.tables].reverse()) {
    let start = lineStart(text, table.range[0]);
    let end = nextLine(text, table.range[1]);
    while (end < text.length && isBlankLine(text, end)) end = nextLine(text, end);
    if (end >= text.length && start > 0) {
      // The last block: the blank line that separated it from the text above goes with it.
      const above = lineStart(text, start - 1);
      if (isBlankLine(text, above)) start = above;
    }
    text = text.slice(0, start) + text.slice(end);
  }
  return tomlBytes(doc, text);
}

/**
 * The write that removes the mirror `url`: the file's new bytes, or, when the file is back to what dockmirror
 * writes around its first mirror, the file's removal with the folder made for it. `undefined` when the file
 * does not have the mirror. One rule for every engine that keeps hosts.toml files (containerd, Docker's certs.d).
 */
export function planHostsRemoveWrite(doc: HostsDocument, url: string): PlannedWrite | undefined {
  const bytes = planHostsRemove(doc, url);
  if (!bytes) return undefined;
  const bare = `${WRITTEN_BY}${doc.eol}server = ${tomlString(defaultServer(doc.registry))}${doc.eol}`;
  const gone = bytes.toString('utf8').replace(/^\uFEFF/, '') === bare;
  return gone ? { file: doc.file, bytes: undefined, removeDirs: [path.dirname(doc.file)] } : { file: doc.file, bytes };
}

/**
 * Checks bytes an edit produced from `before`: they parse strictly as the same registry's hosts.toml, and they
 * differ from `before` in exactly one host's tables (one added or one removed), every other key and the order
 * of the other hosts being equal. Returns the new document; a failure is a {@link BugError}.
 */
export function checkProducedHosts(before: HostsDocument, bytes: Buffer): HostsDocument {
  const bug = (what: string, cause?: unknown): never => {
    throw producedBug(before.file, what, cause);
  };
  let after: HostsDocument;
  try {
    after = parseHostsToml(before.file, bytes, { registry: before.registry });
  } catch (cause) {
    return bug('a hosts.toml that does not parse', cause);
  }
  const keysBefore = before.hosts.map((h) => h.key);
  const keysAfter = after.hosts.map((h) => h.key);
  const added = keysAfter.filter((k) => !keysBefore.includes(k));
  const removed = keysBefore.filter((k) => !keysAfter.includes(k));
  const kept = (keys: string[]): string[] => keys.filter((k) => !added.includes(k) && !removed.includes(k));
  if (!isDeepStrictEqual(kept(keysBefore), kept(keysAfter))) bug('hosts in another order');
  const untouched = (doc: HostsDocument): unknown => {
    const { host, ...rest } = doc.value;
    // A blank file is written from scratch, and gains the upstream as its server.
    if (doc === after && before.text.trim() === '' && rest.server === defaultServer(before.registry)) delete rest.server;
    const hosts = { ...(host as Record<string, unknown> | undefined) };
    for (const key of [...added, ...removed]) delete hosts[key];
    return { ...rest, host: hosts };
  };
  if (!isDeepStrictEqual(untouched(before), untouched(after))) bug('changes outside the mirror\'s [host] table');
  if (added.length + removed.length !== 1) bug(`a change to ${added.length + removed.length} hosts instead of one`);
  const [key] = added;
  if (key !== undefined) {
    const mirror = after.hosts.find((h) => h.key === key)?.mirror;
    if (!isDeepStrictEqual(mirror?.capabilities, [...MIRROR_CAPABILITIES])) bug(`a [host] table for ${key} without capabilities pull and resolve`);
  }
  if (before.bom !== after.bom) bug('a file that gained or lost its byte order mark');
  return after;
}

/** The mirror with this URL (scheme and host case, a trailing `/` or `/v2` aside), if the file has it. */
function findHost(doc: HostsDocument, url: string): HostEntry | undefined {
  const wanted = endpointKey(url);
  return doc.hosts.find((h) => endpointKey(h.mirror.url) === wanted);
}

/** The form two host keys are compared in: containerd dials `http://a:5000`, `HTTP://A:5000/` and `…/v2` alike. */
function endpointKey(url: string): string {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(url);
  if (!match) return url;
  const rest = (match[3] ?? '').replace(/\/+$/, '').replace(/\/v2$/, '');
  return `${(match[1] ?? '').toLowerCase()}://${(match[2] ?? '').toLowerCase()}${rest}`;
}

function withScheme(server: string): string {
  return server.startsWith('http') ? server : `https://${server}`;
}

function checkMirrorUrl(mirror: { url: string; plainHttp: boolean }): string {
  const { url } = mirror;
  const scheme = /^(https?):\/\/[^\s"'\\/?#]+(?:\/[^\s"'\\?#]*)?$/i.exec(url)?.[1]?.toLowerCase();
  if (!scheme || url.length > 2048) {
    throw new InvalidMirrorError(`${JSON.stringify(url.slice(0, 200))} cannot be a containerd mirror.`, {
      hint: 'Give the mirror as http://host[:port] or https://host[:port][/path], without spaces, quotes, a query or a fragment.',
    });
  }
  if ((scheme === 'http') !== mirror.plainHttp) {
    throw new InvalidMirrorError(`${url} is ${scheme === 'http' ? '' : 'not '}plain HTTP, but the change says the opposite.`, {
      hint: 'containerd dials http:// hosts as plain HTTP and https:// hosts with TLS: give the scheme that matches the mirror.',
    });
  }
  // containerd takes a key for a URL only when it starts with a lowercase "http".
  return scheme + url.slice(scheme.length);
}

function tableText(url: string, indent: string, eol: string): string {
  return `[host.${tomlString(url)}]${eol}${indent}capabilities = [${MIRROR_CAPABILITIES.map((c) => tomlString(c)).join(', ')}]${eol}`;
}

/** The indentation the file uses inside its host tables (two spaces, as containerd's docs write it, if none). */
function bodyIndent(doc: HostsDocument): string {
  const item = hostTables(doc).find((t) => t.body.length > 0)?.body[0];
  if (!item) return '  ';
  return /^[ \t]*/.exec(doc.text.slice(lineStart(doc.text, item.range[0]), item.range[0]))?.[0] ?? '';
}

/** The `[host.…]` tables of the file, in file order. */
function hostTables(doc: HostsDocument): AST.TOMLTable[] {
  return doc.hosts.flatMap((h) => h.tables).sort((a, b) => a.range[0] - b.range[0]);
}

/**
 * Where a new table goes in front of the table at `start`: above the comment lines right on top of it (they
 * describe that table), unless they run up to the top of the file, which makes them the file's header.
 */
function leadStart(text: string, start: number): number {
  let at = start;
  while (at > 0) {
    const above = lineStart(text, at - 1);
    if (!isCommentLine(text, above)) return at;
    at = above;
  }
  return start;
}

function refuseHandWritten(doc: HostsDocument): void {
  const odd = doc.hosts.find((h) => !h.editable);
  const inline = entriesOf(doc.ast).find((e) => e.kind !== 'table' && e.path.length === 1 && e.path[0] === 'host');
  const offset = inline?.node.range[0] ?? odd?.offset;
  if (offset === undefined) return;
  const pos = positionOf(doc.text, offset);
  throw new UsageError(`${doc.file}:${pos.line}:${pos.column}: this file defines hosts with dotted keys or inline tables, which dockmirror does not edit.`, {
    location: { file: doc.file, ...pos },
    hint: `Rewrite each host as its own [host."<url>"] table (containerd 2.x ignores the other forms anyway), or edit ${doc.file} by hand.`,
  });
}

function hostsOf(doc: TomlDocument, entries: TomlEntry[]): HostEntry[] {
  const hosts = new Map<string, HostEntry>();
  const values = (doc.value.host ?? {}) as Record<string, Record<string, unknown>>;
  for (const entry of entries) {
    if (entry.path[0] !== 'host' || entry.path.length < 2) continue;
    const key = entry.path[1] as string;
    let host = hosts.get(key);
    if (!host) {
      const caps = values[key]?.capabilities as string[] | undefined;
      const url = withScheme(key);
      const capabilities = caps && caps.length > 0 ? caps.map((c) => c.toLowerCase()) : [...ALL_CAPABILITIES];
      host = { key, mirror: { url, plainHttp: /^http:\/\//i.test(url), capabilities }, tables: [], editable: true, offset: entry.node.range[0] };
      hosts.set(key, host);
    }
    if (entry.kind === 'table') host.tables.push(entry.node as AST.TOMLTable);
    if (!inOwnTable(entry, key)) host.editable = false;
  }
  return [...hosts.values()];
}

/** Whether a key of host `key` sits in a `[host."key"…]` header table (not in a dotted key or inline table above). */
function inOwnTable(entry: TomlEntry, key: string): boolean {
  if (entry.kind !== 'value') return entry.path.length >= 2;
  let node: AST.TOMLNode | null = entry.node.parent;
  while (node && node.type !== 'TOMLTable' && node.type !== 'TOMLTopLevelTable') node = node.parent;
  return node?.type === 'TOMLTable' && node.resolvedKey[0] === 'host' && node.resolvedKey[1] === key && entry.path.length > 2;
}

/** The types containerd's hostFileConfig decodes; other keys it ignores, and so does this check. */
const FIELD_TYPES: Record<string, string> = {
  capabilities: 'a list of capabilities (pull, resolve, push)',
  ca: 'a file name or a list of file names',
  client: 'a file name, or a list of file names or [cert, key] pairs',
  skip_verify: 'true or false',
  header: 'a table of header values',
  override_path: 'true or false',
  dial_timeout: 'a duration such as "10s"',
};

const HINT = 'Fix the value by hand (containerd would not read this hosts.toml: it ignores the whole file), then run dockmirror again.';

function checkEntry(doc: TomlDocument, entry: TomlEntry): void {
  const { path } = entry;
  const at = entry.value?.range[0] ?? entry.node.range[0];
  const fail = (message: string, offset = at): never => {
    throw invalidAt(doc, offset, message, HINT);
  };
  const isTable = entry.kind === 'table' || entry.value?.type === 'TOMLInlineTable';
  const shown = path.map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : tomlString(p))).join('.');
  if (entry.kind === 'array-table') fail(`${shown} must be a table, not an array of tables`);
  let field: string[];
  if (path[0] === 'host') {
    if (path.length <= 2) {
      if (!isTable) fail(`${shown} must be a table${path.length === 1 ? ' of [host."<url>"] tables' : ' of host settings'}, not ${tomlType(entry.value as AST.TOMLContentNode)}`);
      return;
    }
    field = path.slice(2);
  } else {
    if (path[0] === 'server' && path.length === 1) {
      if (entry.value?.type !== 'TOMLValue' || entry.value.kind !== 'string') fail(`server must be a string (the upstream URL), not ${isTable ? 'a table' : tomlType(entry.value as AST.TOMLContentNode)}`);
      return;
    }
    if (path[0] === 'server') fail('server must be a string (the upstream URL), not a table');
    field = path;
  }
  const [name] = field;
  if (name === undefined || !(name in FIELD_TYPES)) return;
  const want = FIELD_TYPES[name] as string;
  if (name === 'header') {
    if (field.length === 1) {
      if (!isTable) fail(`${shown} must be ${want}, not ${tomlType(entry.value as AST.TOMLContentNode)}`);
      return;
    }
    if (field.length > 2 || isTable) fail(`${shown} must be a string or a list of strings, not a table`);
    checkStrings(entry.value as AST.TOMLContentNode, true, `${shown} must be a string or a list of strings`, fail);
    return;
  }
  if (field.length > 1 || isTable) fail(`${shown.split('.').slice(0, path.length - field.length + 1).join('.')} must be ${want}, not a table`);
  const value = entry.value as AST.TOMLContentNode;
  const message = `${shown} must be ${want}`;
  if (name === 'skip_verify' || name === 'override_path') {
    if (value.type !== 'TOMLValue' || value.kind !== 'boolean') fail(`${message}, not ${tomlType(value)}`);
  } else if (name === 'dial_timeout') {
    if (value.type !== 'TOMLValue' || value.kind !== 'string') fail(`${message}, not ${tomlType(value)}`);
    if (!/^([0-9]*(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+$|^0$/.test((value as AST.TOMLStringValue).value)) fail(`${message} (Go's time.ParseDuration refuses it)`);
  } else if (name === 'capabilities') {
    if (value.type !== 'TOMLArray') fail(`${message}, not ${tomlType(value)}`);
    for (const element of (value as AST.TOMLArray).elements) {
      if (element.type !== 'TOMLValue' || element.kind !== 'string') fail(`${message}, found ${tomlType(element)}`, element.range[0]);
      const capability = (element as AST.TOMLStringValue).value;
      if (!KNOWN_CAPABILITIES.has(capability.toLowerCase())) fail(`unknown capability ${tomlString(capability)} (containerd knows pull, resolve, push and, from 2.0, referrers)`, element.range[0]);
    }
  } else if (name === 'ca') {
    checkStrings(value, true, message, fail);
  } else if (name === 'client') {
    if (value.type === 'TOMLArray') {
      for (const element of value.elements) {
        if (element.type === 'TOMLArray') {
          if (element.elements.length !== 2) fail(`${message}: a [cert, key] pair has two file names`, element.range[0]);
          checkStrings(element, true, message, fail);
        } else {
          checkStrings(element, false, message, fail);
        }
      }
    } else {
      checkStrings(value, false, message, fail);
    }
  }
}

/** A string, or (when `list`) an array of strings; `fail` at the first node that is neither. */
function checkStrings(value: AST.TOMLContentNode, list: boolean, message: string, fail: (message: string, offset?: number) => never): void {
  if (value.type === 'TOMLValue' && value.kind === 'string') return;
  if (!list || value.type !== 'TOMLArray') fail(`${message}, not ${tomlType(value)}`, value.range[0]);
  for (const element of (value as AST.TOMLArray).elements) {
    if (element.type !== 'TOMLValue' || element.kind !== 'string') fail(`${message}, found ${tomlType(element)}`, element.range[0]);
  }
}
