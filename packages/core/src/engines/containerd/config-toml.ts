/**
 * containerd's config.toml, for the one thing dockmirror needs from it: the CRI plugin's registry
 * `config_path`, the folder of per-registry hosts.toml files. Where the key lives depends on the file's
 * `version`; setting it is a minimal splice, and needs a containerd restart (hosts.toml files then need none).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { FlagConflictError, producedBug, UsageError } from '../../errors.js';
import { positionOf } from '../../config/document.js';
import { parseTomlDocument, tomlBytes, type TomlDocument } from '../../support/toml.js';
import { scanContainerd, type ContainerdScan } from './containerd-process.js';
import { entriesOf, invalidAt, lineStart, nextLine, tomlString, tomlType, type TomlEntry } from './toml-nodes.js';

/** The CRI plugin that holds `registry` in each config version (1: containerd 1.x's old ids, 3: containerd 2.x). */
export const REGISTRY_PLUGIN: Readonly<Record<1 | 2 | 3, string>> = {
  1: 'cri',
  2: 'io.containerd.grpc.v1.cri',
  3: 'io.containerd.cri.v1.images',
};

/** The version a new config.toml is written in: containerd 1.6 and 1.7 read it, and 2.x migrates it on load. */
export const NEW_CONFIG_VERSION = 2;

/** The largest config.toml read: real ones are a few KiB. */
export const MAX_CONFIG_TOML_BYTES = 4 * 1024 * 1024;

/** Where config.toml is, and why that one. */
export interface LocatedContainerdConfig {
  /** Absolute path (it may not exist: containerd then runs on its defaults). */
  path: string;
  /** What decided it. */
  source: 'option' | 'default' | 'process';
  /** One sentence saying why this file. */
  reason: string;
  /** The containerd whose `--config` named it, for `source: 'process'`. */
  pid?: number;
  /** containerd processes passed over, and why. */
  ignored: ContainerdScan['ignored'];
}

/** Inputs of {@link locateContainerdConfig}; all injectable so each branch runs in a test. */
export interface LocateContainerdOptions {
  /** An explicit config.toml (`--config-file`): wins over everything. */
  configFile?: string;
  /** The file system root `/etc/containerd/config.toml` is looked up under (default `/`). */
  rootDir?: string;
  /** Where /proc is (default `/proc`). */
  procRoot?: string;
  /** The caller's uid, whose processes are trusted besides root's (default: this process's). */
  callerUid?: number;
  /** Existence probe (default `fs.existsSync`). */
  exists?: (file: string) => boolean;
}

/**
 * Finds the config.toml in use: `--config-file`, then `/etc/containerd/config.toml` if it exists, then the
 * `--config`/`-c` of a running containerd that root (or the caller) owns, else the default path (to be created).
 */
export function locateContainerdConfig(options: LocateContainerdOptions = {}): LocatedContainerdConfig {
  if (options.configFile) {
    return { path: path.resolve(options.configFile), source: 'option', reason: 'given with --config-file', ignored: [] };
  }
  const exists = options.exists ?? existsSync;
  const etc = path.join(options.rootDir ?? '/', 'etc', 'containerd', 'config.toml');
  if (exists(etc)) return { path: etc, source: 'default', reason: 'containerd reads /etc/containerd/config.toml by default', ignored: [] };
  const scan = scanContainerd(options.procRoot, options.callerUid);
  if (scan.process?.configFile) {
    return {
      path: scan.process.configFile,
      source: 'process',
      reason: `the running containerd (pid ${scan.process.pid}) was started with --config`,
      pid: scan.process.pid,
      ignored: scan.ignored,
    };
  }
  return { path: etc, source: 'default', reason: 'no config.toml exists: containerd runs on its defaults, and reads this file once it exists', ignored: scan.ignored };
}

/** What config.toml says about registries. */
export interface ContainerdRegistryConfig {
  /** The config's `version` (1 when it has none, as containerd reads it). */
  version: 1 | 2 | 3;
  /** The plugin key `registry` sits under for that version. */
  plugin: string;
  /** `config_path` as written, when set and not empty. */
  configPath?: string;
  /** Its folders (a `:`-separated list, `;` on Windows). */
  hostsDirs: string[];
  /** The folder a new hosts.toml goes in: the first one, which containerd also searches first. */
  hostsDir?: string;
  /** Registries with inline `registry.mirrors` (deprecated, and refused next to `config_path`). */
  inlineMirrors: string[];
  /** Whether some `registry.configs.<host>.tls` is set (refused next to `config_path` too). */
  inlineTls: boolean;
  /** `imports`: other files containerd merges in, which may set `config_path` too (not followed). */
  imports: string[];
}

/** Parses a config.toml strictly (missing: `exists: false`, read as empty). */
export function parseContainerdConfig(file: string, bytes: Buffer, options: { exists?: boolean } = {}): TomlDocument {
  const doc = parseTomlDocument(file, bytes, { exists: options.exists ?? true, what: 'containerd' });
  registryConfigOf(doc);
  return doc;
}

const HINT = 'Fix it by hand (containerd would refuse the file too), then run dockmirror again.';

/**
 * Reads `version`, `config_path`, inline mirrors and `imports`, checking the type of each on the way: a
 * `version` other than 1, 2 or 3, a `config_path` that is not a string, a `registry` that is not a table… is an
 * {@link InvalidConfigError} at its `file:line:column`.
 */
export function registryConfigOf(doc: TomlDocument, options: { platform?: NodeJS.Platform } = {}): ContainerdRegistryConfig {
  const entries = entriesOf(doc.ast);
  const at = (keys: string[]): TomlEntry | undefined => entries.find((e) => e.path.length === keys.length && e.path.every((p, i) => p === keys[i]));
  const fail = (entry: TomlEntry, message: string): never => {
    throw invalidAt(doc, entry.value?.range[0] ?? entry.node.range[0], message, HINT);
  };
  const table = (keys: string[]): Record<string, unknown> | undefined => {
    const entry = at(keys);
    // A table may exist only through the headers of its subtables ([a.b.c] defines a and a.b).
    if (!entry) return lookup(doc.value, keys) as Record<string, unknown> | undefined;
    if (entry.kind === 'array-table') fail(entry, `${keys.map(shown).join('.')} must be a table, not an array of tables`);
    if (entry.kind === 'value' && entry.value?.type !== 'TOMLInlineTable') fail(entry, `${keys.map(shown).join('.')} must be a table, not ${tomlType(entry.value!)}`);
    return lookup(doc.value, keys) as Record<string, unknown>;
  };
  const versionEntry = at(['version']);
  let version: 1 | 2 | 3 = 1;
  if (versionEntry) {
    const raw = doc.value.version;
    if (typeof raw !== 'bigint' && typeof raw !== 'number') fail(versionEntry, `version must be an integer, not ${tomlType(versionEntry.value!)}`);
    if (![1, 2, 3].includes(Number(raw))) fail(versionEntry, `version ${String(raw)} is not one containerd knows (1, 2 or 3)`);
    version = Number(raw) as 1 | 2 | 3;
  }
  const plugin = REGISTRY_PLUGIN[version];
  const base = ['plugins', plugin, 'registry'];
  table(['plugins']);
  table(['plugins', plugin]);
  const registry = table(base) ?? {};
  const pathEntry = at([...base, 'config_path']);
  let configPath: string | undefined;
  if (pathEntry) {
    if (typeof registry.config_path !== 'string') fail(pathEntry, `config_path must be a string (a folder), not ${pathEntry.kind === 'value' ? tomlType(pathEntry.value!) : 'a table'}`);
    configPath = registry.config_path === '' ? undefined : (registry.config_path as string);
  }
  const mirrors = table([...base, 'mirrors']) ?? {};
  const configs = table([...base, 'configs']) ?? {};
  const inlineTls = Object.values(configs).some((c) => typeof c === 'object' && c !== null && 'tls' in c);
  const importsEntry = at(['imports']);
  const imports = doc.value.imports;
  if (importsEntry && (!Array.isArray(imports) || imports.some((i) => typeof i !== 'string'))) fail(importsEntry, 'imports must be a list of file names');
  const delimiter = (options.platform ?? process.platform) === 'win32' ? ';' : ':';
  const hostsDirs = (configPath ?? '').split(delimiter).filter((d) => d !== '');
  return {
    version,
    plugin,
    ...(configPath === undefined ? {} : { configPath }),
    hostsDirs,
    ...(hostsDirs[0] === undefined ? {} : { hostsDir: hostsDirs[0] }),
    inlineMirrors: Object.keys(mirrors),
    inlineTls,
    imports: (imports as string[] | undefined) ?? [],
  };
}

/**
 * Refuses a config.toml whose registry settings containerd will not combine with `config_path` (inline
 * `mirrors`, `configs.<host>.tls`): containerd 1.6 and 2.x both fail the CRI plugin then. A
 * {@link FlagConflictError}, the code for "another setting already decides this", naming where.
 */
export function refuseInlineMirrors(doc: TomlDocument, config = registryConfigOf(doc)): void {
  if (config.inlineMirrors.length === 0 && !config.inlineTls) return;
  const key = config.inlineMirrors.length > 0 ? 'mirrors' : 'configs';
  const entry = entriesOf(doc.ast).find((e) => e.path[0] === 'plugins' && e.path[1] === config.plugin && e.path[2] === 'registry' && e.path[3] === key);
  const pos = positionOf(doc.text, entry?.node.range[0] ?? 0);
  const what = config.inlineMirrors.length > 0 ? `inline registry.mirrors (for ${config.inlineMirrors.join(', ')})` : 'inline registry.configs.<host>.tls';
  throw new FlagConflictError(
    `${doc.file}:${pos.line}:${pos.column}: this config.toml sets ${what}, which containerd refuses to combine with config_path ("cannot be set when config_path is provided"); nothing was written.`,
    {
      location: { file: doc.file, ...pos },
      hint: `Move those settings into hosts.toml files (one per registry under a config_path folder, see containerd's docs/hosts.md), remove them from ${doc.file}, then run dockmirror again.`,
      details: { inlineMirrors: config.inlineMirrors, inlineTls: config.inlineTls },
    },
  );
}

/** What setting `config_path` takes. */
export interface ConfigPathChange {
  /** The new config.toml bytes. */
  bytes: Buffer;
  /** Always true: containerd reads config.toml only when it starts. */
  needsRestart: true;
}

/**
 * The minimal edit that sets `config_path = "<dir>"`: a line under an existing `[…registry]` table, or that
 * table appended, or (no file) a new file. `undefined` when it is already `dir`. Refuses inline mirrors
 * ({@link refuseInlineMirrors}) and a `config_path` that names other folders (those are the ones to write in).
 */
export function planSetConfigPath(doc: TomlDocument, dir: string, options: { platform?: NodeJS.Platform } = {}): ConfigPathChange | undefined {
  const config = registryConfigOf(doc, options);
  if (config.configPath === dir) return undefined;
  if (config.configPath !== undefined) {
    throw new UsageError(`${doc.file} already sets config_path = ${tomlString(config.configPath)}; dockmirror will not point it elsewhere.`, {
      location: { file: doc.file },
      hint: `Write the hosts.toml files under ${config.hostsDir ?? config.configPath} instead.`,
    });
  }
  refuseInlineMirrors(doc, config);
  if (/[\0\n\r]/.test(dir) || !(options.platform === 'win32' ? path.win32 : path.posix).isAbsolute(dir)) {
    throw new UsageError(`${JSON.stringify(dir)} cannot be config_path: it must be one absolute folder.`);
  }
  const { text, eol } = doc;
  const line = `config_path = ${tomlString(dir)}`;
  const fresh = text.trim() === '';
  const header = `[plugins.${tomlString(fresh ? REGISTRY_PLUGIN[NEW_CONFIG_VERSION] : config.plugin)}.registry]`;
  const base = ['plugins', config.plugin, 'registry'];
  const entries = entriesOf(doc.ast);
  const same = (e: TomlEntry, keys: string[]): boolean => e.path.length === keys.length && e.path.every((p, i) => p === keys[i]);
  const empty = entries.find((e) => same(e, [...base, 'config_path']));
  let out: string;
  if (empty?.value) {
    // `config_path = ""`: only the empty string is replaced.
    out = text.slice(0, empty.value.range[0]) + tomlString(dir) + text.slice(empty.value.range[1]);
  } else if (fresh) {
    out = `# written by dockmirror${eol}version = ${NEW_CONFIG_VERSION}${eol}${eol}${header}${eol}  ${line}${eol}`;
  } else {
    const registry = entries.find((e) => same(e, base));
    if (registry && registry.kind !== 'table') {
      const pos = positionOf(text, registry.node.range[0]);
      throw new UsageError(`${doc.file}:${pos.line}:${pos.column}: the registry settings are an inline table, which dockmirror does not edit.`, {
        location: { file: doc.file, ...pos },
        hint: `Add config_path = ${tomlString(dir)} to it by hand, then restart containerd.`,
      });
    }
    if (registry) {
      const table = registry.node as { range: [number, number]; key: { range: [number, number] }; body: { range: [number, number] }[] };
      const first = table.body[0];
      const indent = first ? (/^[ \t]*/.exec(text.slice(lineStart(text, first.range[0]), first.range[0]))?.[0] ?? '') : `${/^[ \t]*/.exec(text.slice(lineStart(text, table.range[0])))?.[0] ?? ''}  `;
      const at = nextLine(text, table.key.range[1]);
      const lead = at === text.length && !text.endsWith('\n') ? eol : '';
      out = text.slice(0, at) + lead + indent + line + eol + text.slice(at);
    } else {
      const end = text.endsWith('\n') ? '' : eol;
      out = `${text}${end}${eol}${header}${eol}  ${line}${eol}`;
    }
  }
  const bytes = tomlBytes(doc, out);
  checkProducedConfig(doc, bytes, dir, options);
  return { bytes, needsRestart: true };
}

/** Re-parses an edit's bytes and checks that `config_path` is now `dir` and nothing else changed. A bug otherwise. */
function checkProducedConfig(before: TomlDocument, bytes: Buffer, dir: string, options: { platform?: NodeJS.Platform }): void {
  const bug = (what: string, cause?: unknown): never => {
    throw producedBug(before.file, what, cause);
  };
  let after: TomlDocument;
  try {
    after = parseContainerdConfig(before.file, bytes);
  } catch (cause) {
    return bug('a config.toml that does not parse', cause);
  }
  if (registryConfigOf(after, options).configPath !== dir) bug('a config.toml without the new config_path');
  // Take config_path out of both, and the tables the edit created around it, and nothing else may differ.
  const plugin = REGISTRY_PLUGIN[registryConfigOf(after, options).version];
  const strip = (doc: TomlDocument): Record<string, unknown> => {
    const value = structuredClone(doc.value);
    const registry = lookup(value, ['plugins', plugin, 'registry']) as Record<string, unknown> | undefined;
    if (registry) delete registry.config_path;
    if (doc === after) {
      if (before.text.trim() === '') delete value.version;
      for (let depth = 3; depth > 0; depth--) {
        const keys = ['plugins', plugin, 'registry'].slice(0, depth);
        const parent = lookup(value, keys.slice(0, -1)) as Record<string, unknown> | undefined;
        const table = lookup(value, keys);
        const created = lookup(before.value, keys) === undefined;
        if (parent && created && typeof table === 'object' && table !== null && Object.keys(table).length === 0) delete parent[keys.at(-1) as string];
      }
    }
    return value;
  };
  if (!isDeepStrictEqual(strip(before), strip(after))) bug('changes besides config_path');
}

function lookup(value: unknown, keys: string[]): unknown {
  let node = value;
  for (const key of keys) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function shown(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key);
}
