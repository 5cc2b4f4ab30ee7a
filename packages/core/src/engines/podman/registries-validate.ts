/**
 * What containers/image 5.23 (podman 4.3) refuses in a registries.conf after the TOML itself parsed: a value of
 * the wrong type for a key it decodes, v1 tables, a v1/v2 mix, a scheme in a location, an unset location, bad
 * `pull-from-mirror` values, conflicting `insecure`/`blocked` settings for one location, malformed wildcard
 * prefixes, search registries or short-name modes. Keys it does not know are ignored, as its decoder does.
 */
import type { AST } from 'toml-eslint-parser';
import { InvalidConfigError } from '../../errors.js';
import type { TomlDocument } from '../../support/toml.js';
import type { RegistryMirrorSettings, RegistryTableSettings } from './settings.js';

type Path = readonly (string | number)[];

const V1_HINT =
  'Convert it to the v2 format (containers-registries.conf(5)): "[registries.search] registries = [...]" becomes ' +
  '"unqualified-search-registries = [...]"; each registry in [registries.insecure] or [registries.block] becomes ' +
  'its own [[registry]] table with location = "<registry>" and insecure = true or blocked = true. Then run dockmirror again.';

/** The `pull-from-mirror` values containers/image accepts. */
const PULL_FROM_MIRROR = ['all', 'digest-only', 'tag-only'];
/** The `short-name-mode` values containers/image accepts. */
const SHORT_NAME_MODES = ['disabled', 'enforcing', 'permissive'];
/** docker/reference's domain: dot-separated components, then an optional port. */
const DOMAIN = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$/;

/**
 * Checks the parsed file's meaning and returns each `[[registry]]` table's normalised settings in file order.
 * Throws {@link InvalidConfigError} at the first problem, with `file:line:column` of the value involved.
 */
export function validateTables(doc: TomlDocument): RegistryTableSettings[] {
  const where = positions(doc.ast);
  const fail = (path: Path, message: string, hint?: string): never => {
    const pos = where(path);
    throw new InvalidConfigError(`${doc.file}:${pos.line}:${pos.column}: ${message}`, {
      location: { file: doc.file, ...pos },
      hint: hint ?? `Fix ${doc.file} by hand (podman would refuse it too), then run dockmirror again.`,
    });
  };
  const value = doc.value;
  const expect = (path: Path, v: unknown, type: 'string' | 'boolean' | 'table' | 'array'): void => {
    const actual = typeOf(v);
    if (actual !== type) fail(path, `"${path.filter((p) => typeof p === 'string').join('.')}" must be ${article(type)}, not ${article(actual)}`);
  };
  const strings = (path: Path, v: unknown): string[] | undefined => {
    if (v === undefined) return undefined;
    expect(path, v, 'array');
    (v as unknown[]).forEach((item, i) => expect([...path, i], item, 'string'));
    return v as string[];
  };
  const str = (path: Path, v: unknown): string => (v === undefined ? '' : (expect(path, v, 'string'), v as string));
  const bool = (path: Path, v: unknown): boolean => (v === undefined ? false : (expect(path, v, 'boolean'), v as boolean));
  const table = (path: Path, v: unknown): Record<string, unknown> => (v === undefined ? {} : (expect(path, v, 'table'), v as Record<string, unknown>));

  // Types first, as the Go decoder reports them before any meaning is looked at.
  const search = strings(['unqualified-search-registries'], value['unqualified-search-registries']);
  const helpers = strings(['credential-helpers'], value['credential-helpers']);
  const mode = str(['short-name-mode'], value['short-name-mode']);
  const aliases = table(['aliases'], value.aliases);
  for (const [k, v] of Object.entries(aliases)) expect(['aliases', k], v, 'string');
  const v1 = table(['registries'], value.registries);
  let v1Section: Path | undefined;
  for (const part of ['search', 'insecure', 'block']) {
    const section = table(['registries', part], v1[part]);
    if ((strings(['registries', part, 'registries'], section.registries)?.length ?? 0) > 0) v1Section ??= ['registries', part];
  }
  const rawRegistries = value.registry === undefined ? [] : (expect(['registry'], value.registry, 'array'), value.registry as unknown[]);
  const raw = rawRegistries.map((r, i) => {
    const at = (k: string): Path => ['registry', i, k];
    expect(['registry', i], r, 'table');
    const reg = r as Record<string, unknown>;
    const rawMirrors = reg.mirror === undefined ? [] : (expect(at('mirror'), reg.mirror, 'array'), reg.mirror as unknown[]);
    return {
      prefix: str(at('prefix'), reg.prefix),
      location: str(at('location'), reg.location),
      insecure: bool(at('insecure'), reg.insecure),
      blocked: bool(at('blocked'), reg.blocked),
      mirrorByDigestOnly: bool(at('mirror-by-digest-only'), reg['mirror-by-digest-only']),
      pullFromMirror: str(at('pull-from-mirror'), reg['pull-from-mirror']),
      mirrors: rawMirrors.map((m, j) => {
        const mat = (k: string): Path => ['registry', i, 'mirror', j, k];
        expect(['registry', i, 'mirror', j], m, 'table');
        const mir = m as Record<string, unknown>;
        return { location: str(mat('location'), mir.location), insecure: bool(mat('insecure'), mir.insecure), pullFromMirror: str(mat('pull-from-mirror'), mir['pull-from-mirror']) };
      }),
    };
  });

  const v2Nonempty = raw.length > 0 || (search?.length ?? 0) > 0 || (helpers?.length ?? 0) > 0 || mode !== '' || Object.keys(aliases).length > 0;
  if (v1Section) {
    if (v2Nonempty) fail(v1Section, 'the file mixes the v1 format ([registries.search], [registries.insecure], [registries.block]) with v2 keys; podman refuses such a file', V1_HINT);
    fail(v1Section, 'the file is in the old v1 format ([registries.search], [registries.insecure], [registries.block]), which dockmirror does not edit', V1_HINT);
  }

  const location = (path: Path, input: string): string => {
    const trimmed = input.replace(/\/+$/, '');
    if (/^https?:\/\//.test(trimmed)) {
      fail(path, `invalid location "${input}": podman does not accept a URI scheme here`, `Write it without the scheme, as host[:port][/path] (for a plain-HTTP mirror add insecure = true to its table), then run dockmirror again.`);
    }
    return trimmed;
  };
  const settings = raw.map((r, i): RegistryTableSettings => {
    const at = (k: string): Path => ['registry', i, k];
    const loc = location(at('location'), r.location);
    let prefix: string;
    if (r.prefix === '') {
      if (loc === '') fail(['registry', i], 'a [[registry]] with neither location nor prefix');
      prefix = loc;
    } else {
      prefix = location(at('prefix'), r.prefix);
      if (!prefix.startsWith('*.') && loc === '') fail(at('prefix'), `the [[registry]] for "${prefix}" has no location (only a *.example.com prefix may go without one)`);
    }
    if (r.pullFromMirror !== '') fail(at('pull-from-mirror'), `pull-from-mirror is for [[registry.mirror]] tables, not for the registry "${prefix}" itself`);
    const mirrors = r.mirrors.map((m, j): RegistryMirrorSettings => {
      const mat = (k: string): Path => ['registry', i, 'mirror', j, k];
      const mloc = location(mat('location'), m.location);
      if (mloc === '') fail(['registry', i, 'mirror', j], `a [[registry.mirror]] of "${prefix}" has no location`);
      if (r.mirrorByDigestOnly && m.pullFromMirror !== '') fail(mat('pull-from-mirror'), `the registry "${prefix}" sets mirror-by-digest-only, so its mirror "${mloc}" may not set pull-from-mirror`);
      if (m.pullFromMirror !== '' && !PULL_FROM_MIRROR.includes(m.pullFromMirror)) fail(mat('pull-from-mirror'), `unsupported pull-from-mirror value "${m.pullFromMirror}" (use all, digest-only or tag-only)`);
      // containers/image 5.23 checks the trimmed location but keeps the mirror's as written (it trims a copy).
      return { location: m.location, insecure: m.insecure, ...(m.pullFromMirror === '' ? {} : { pullFromMirror: m.pullFromMirror }) };
    });
    if (prefix.startsWith('*.') && /[/@:]/.test(prefix)) fail(at('prefix'), `the wildcard prefix "${prefix}" must look like *.example.com (no path, port or digest)`);
    return { prefix, location: loc, insecure: r.insecure, blocked: r.blocked, mirrorByDigestOnly: r.mirrorByDigestOnly, mirrors };
  });
  // One location (or, without one, prefix) named by several tables must agree on insecure and blocked.
  const byKey = new Map<string, RegistryTableSettings>();
  settings.forEach((s, i) => {
    const key = s.location === '' ? s.prefix : s.location;
    const first = byKey.get(key);
    if (!first) return void byKey.set(key, s);
    if (first.insecure !== s.insecure) fail(['registry', i, 'insecure'], `the registry "${key}" is defined more than once with conflicting insecure settings`);
    if (first.blocked !== s.blocked) fail(['registry', i, 'blocked'], `the registry "${key}" is defined more than once with conflicting blocked settings`);
  });
  (search ?? []).forEach((entry, i) => {
    const host = location(['unqualified-search-registries', i], entry);
    if (!DOMAIN.test(host)) fail(['unqualified-search-registries', i], `invalid unqualified-search-registries entry "${entry}" (a host[:port] is expected)`);
  });
  if (mode !== '' && !SHORT_NAME_MODES.includes(mode)) fail(['short-name-mode'], `invalid short-name-mode "${mode}" (use disabled, enforcing or permissive)`);
  return settings;
}

type TomlType = 'string' | 'boolean' | 'number' | 'datetime' | 'array' | 'table';

function typeOf(v: unknown): TomlType {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number' || typeof v === 'bigint') return 'number';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'datetime';
  if (typeof v === 'object' && v !== null && !(Symbol.toPrimitive in v) && Object.getPrototypeOf(v) === Object.prototype) return 'table';
  return 'datetime';
}

function article(type: TomlType): string {
  return { string: 'a string', boolean: 'a boolean', number: 'a number', datetime: 'a date/time', array: 'an array', table: 'a table' }[type];
}

/**
 * Maps a key path (`['registry', 0, 'mirror', 1, 'location']`) to the 1-based line and column of the node that
 * defines it, or of its nearest defined ancestor.
 */
function positions(ast: AST.TOMLProgram): (path: Path) => { line: number; column: number } {
  const found = new Map<string, AST.TOMLNode>();
  const id = (path: Path): string => path.join('\u0000');
  const visitValue = (path: (string | number)[], node: AST.TOMLNode): void => {
    found.set(id(path), node);
    if (node.type === 'TOMLArray') node.elements.forEach((e, i) => visitValue([...path, i], e));
    if (node.type === 'TOMLInlineTable') for (const kv of node.body) visitKeyValue(path, kv);
  };
  const visitKeyValue = (base: (string | number)[], kv: AST.TOMLKeyValue): void => {
    const names = kv.key.keys.map((k) => (k.type === 'TOMLBare' ? k.name : k.value));
    for (let n = 1; n < names.length; n++) if (!found.has(id([...base, ...names.slice(0, n)]))) found.set(id([...base, ...names.slice(0, n)]), kv);
    found.set(id([...base, ...names]), kv);
    visitValue([...base, ...names], kv.value);
    found.set(id([...base, ...names]), kv);
  };
  for (const item of ast.body[0]?.body ?? []) {
    if (item.type === 'TOMLKeyValue') visitKeyValue([], item);
    else {
      found.set(id(item.resolvedKey), item);
      for (const kv of item.body) visitKeyValue([...item.resolvedKey], kv);
    }
  }
  return (path) => {
    for (let n = path.length; n > 0; n--) {
      const node = found.get(id(path.slice(0, n)));
      if (node) return { line: node.loc.start.line, column: node.loc.start.column + 1 };
    }
    return { line: 1, column: 1 };
  };
}
