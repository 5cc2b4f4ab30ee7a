/**
 * Which registries.conf files podman, buildah, skopeo and CRI-O read, in which order, and which one dockmirror
 * must write so that the effective config is what the user had plus the mirror. The rules are containers/image
 * 5.23's (podman 4.3), checked against the real podman here:
 * - the main file is `--config-file` / `CONTAINERS_REGISTRIES_CONF`; else `~/.config/containers/registries.conf`
 *   when it exists (for root too; `$XDG_CONFIG_HOME` is not consulted); else `/etc/containers/registries.conf`;
 * - then the drop-ins `*.conf` of `/etc/containers/registries.conf.d` (not with the user's file) and of
 *   `~/.config/containers/registries.conf.d`, each folder in byte order of the names, subfolders skipped. A named
 *   main file changes none of that: the folder beside it is never read, the two above still are;
 * - a folder that is itself a symlink is not read (Go's WalkDir does not follow its root);
 * - within one file the first table of a prefix counts; a later file's table replaces it whole.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidConfigError, UnsafePathError, UsageError } from '../../errors.js';
import { BoundedReadError, readBounded } from '../../support/bounded-read.js';
import { fsError, isCode } from '../../support/fs-errors.js';
import { isTrustedUid, trustedFolder, trustedPath } from '../../support/trusted-path.js';
import { MAX_REGISTRIES_CONF_BYTES, parseRegistriesConf, type RegistriesConfDocument } from './registries-conf.js';
import type { RegistryTableSettings } from './settings.js';

/** Where the main file came from. */
export type RegistriesSource = 'flag' | 'env' | 'user' | 'system';

/** Options of {@link locateRegistriesConf}. */
export interface LocateRegistriesOptions {
  /** `--config-file`: the main file, named. */
  configFile?: string;
  /** The environment podman runs with (its `CONTAINERS_REGISTRIES_CONF`). */
  env: NodeJS.ProcessEnv;
  /** The home folder of the user whose podman is meant (podman uses `$HOME`). */
  homedir: string;
  /** Where `/etc` is looked for (tests); default `/`. */
  rootDir?: string;
}

/** The files podman reads, before any is opened. */
export interface LocatedRegistries {
  /** The main registries.conf. */
  main: string;
  /** Why it is the main file. */
  source: RegistriesSource;
  /** The drop-in folders, in the order podman reads them. */
  dropInDirs: string[];
  /** `/etc/containers` under the root dir: with a named main file, nothing under it is written. */
  systemDir: string;
}

/** More drop-ins than this in one folder is refused rather than read. */
export const MAX_DROP_INS = 1000;

/** The name of the drop-in dockmirror writes when asked to leave the main file alone. */
export const DROP_IN_NAME = '99-dockmirror.conf';

/** Decides the main file and the drop-in folders, as podman 4.3 does (it only asks whether the user file exists). */
export async function locateRegistriesConf(options: LocateRegistriesOptions): Promise<LocatedRegistries> {
  const systemDir = path.join(options.rootDir ?? '/', 'etc', 'containers');
  const userDir = path.join(options.homedir, '.config', 'containers');
  const systemDropIns = path.join(systemDir, 'registries.conf.d');
  const userDropIns = path.join(userDir, 'registries.conf.d');
  const named = options.configFile ?? options.env.CONTAINERS_REGISTRIES_CONF;
  if (named) {
    const source = options.configFile ? 'flag' : 'env';
    return { main: path.resolve(named), source, dropInDirs: [systemDropIns, userDropIns], systemDir };
  }
  const userFile = path.join(userDir, 'registries.conf');
  if (await exists(userFile)) return { main: userFile, source: 'user', dropInDirs: [userDropIns], systemDir };
  return { main: path.join(systemDir, 'registries.conf'), source: 'system', dropInDirs: [systemDropIns, userDropIns], systemDir };
}

/** The files read: the main one (empty when missing) and every drop-in, in podman's order. */
export interface RegistriesFiles {
  /** What was located. */
  located: LocatedRegistries;
  /** The main file; `toml.exists` is false when it is missing (podman then reads it as empty). */
  main: RegistriesConfDocument;
  /** The drop-ins, in the order podman applies them. */
  dropIns: RegistriesConfDocument[];
  /** What the user should know about what podman does not read (a symlinked drop-in folder). */
  notes: string[];
}

/**
 * Reads the main file and every drop-in strictly, through folders and symlinks only root or the caller control
 * (another user's folder or symlink is an {@link UnsafePathError}), each bounded in size.
 */
export async function readRegistriesFiles(located: LocatedRegistries): Promise<RegistriesFiles> {
  const notes: string[] = [];
  const main = await readRegistriesFile(located.main);
  const dropIns: RegistriesConfDocument[] = [];
  for (const dir of located.dropInDirs) {
    for (const file of await dropInFiles(dir, notes)) dropIns.push(await readRegistriesFile(file));
  }
  return { located, main, dropIns, notes };
}

/** One registries.conf read strictly; a missing one reads as empty. */
export async function readRegistriesFile(file: string): Promise<RegistriesConfDocument> {
  const { path: real } = await trustedPath(file, { what: 'registries.conf folder' });
  let bytes: Buffer | undefined;
  try {
    bytes = await readBounded(real, { maxBytes: MAX_REGISTRIES_CONF_BYTES });
  } catch (error) {
    if (error instanceof BoundedReadError || isCode(error, 'EISDIR')) {
      const tooLarge = error instanceof BoundedReadError && error.reason === 'too-large';
      throw new InvalidConfigError(tooLarge ? `${file} is larger than ${MAX_REGISTRIES_CONF_BYTES / 1024 / 1024} MiB.` : `${file} is not a regular file.`, {
        location: { file },
        hint: tooLarge ? 'That is no registries.conf: point --config-file at the real one.' : 'podman cannot read it either: remove it, or point --config-file at the registries.conf file itself.',
      });
    }
    throw fsError(error, file, 'read');
  }
  return bytes === undefined ? parseRegistriesConf(file, Buffer.alloc(0), { exists: false }) : parseRegistriesConf(file, bytes);
}

/** The `*.conf` files podman reads from one drop-in folder, in its order. */
async function dropInFiles(dir: string, notes: string[]): Promise<string[]> {
  const parent = await trustedFolder(path.dirname(dir), { what: 'registries.conf.d folder' }).catch((error: unknown) => {
    // A missing parent means a missing folder, as for podman; anything else someone else controls is refused.
    if (error instanceof UnsafePathError && error.details?.reason === 'missing') return undefined;
    throw error;
  });
  if (parent === undefined) return [];
  const folder = path.join(parent, path.basename(dir));
  let info;
  try {
    info = await lstat(folder);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return [];
    throw fsError(error, folder, 'read');
  }
  if (info.isSymbolicLink()) {
    if (!isTrustedUid(info.uid)) {
      throw new UnsafePathError(`Refusing to use the registries.conf.d folder: ${folder} is a symlink owned by uid ${info.uid}, so another user could control what is there.`, {
        location: { file: folder },
        hint: `Remove the symlink ${folder}, or make it root's (podman does not read a symlinked drop-in folder anyway).`,
        details: { path: folder, reason: `is a symlink owned by uid ${info.uid}` },
      });
    }
    notes.push(`${folder} is a symlink: podman does not read drop-ins through it, so neither does dockmirror.`);
    return [];
  }
  if (!info.isDirectory()) return [];
  await trustedFolder(folder, { what: 'registries.conf.d folder' });
  let entries: Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    throw fsError(error, folder, 'read');
  }
  const names = entries.filter((e) => !e.isDirectory() && e.name.endsWith('.conf')).map((e) => e.name);
  if (names.length > MAX_DROP_INS) {
    throw new InvalidConfigError(`${folder} holds more than ${MAX_DROP_INS} drop-in files.`, { location: { file: folder }, hint: 'Remove the drop-ins nobody needs, then run dockmirror again.' });
  }
  // Go sorts names by their bytes; JavaScript's default sort compares UTF-16 units, which differs past U+FFFF.
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map((name) => path.join(folder, name));
}

/** One table of the effective config, with the file it comes from. */
export interface EffectiveRegistry extends RegistryTableSettings {
  /** The file whose table counts. */
  source: string;
  /** Its line there. */
  line: number;
}

/**
 * The registries podman uses, merged as containers/image merges them: per file the first table of a prefix,
 * each later file's table replacing an earlier one of the same prefix whole; sorted by prefix as podman lists
 * them.
 */
export function effectiveSettings(files: readonly RegistriesConfDocument[]): EffectiveRegistry[] {
  const merged = new Map<string, EffectiveRegistry>();
  for (const doc of files) {
    for (const [prefix, entry] of firstTables(doc)) merged.set(prefix, { ...entry.settings, source: doc.file, line: entry.line });
  }
  return [...merged.values()].sort((a, b) => Buffer.compare(Buffer.from(a.prefix), Buffer.from(b.prefix)));
}

/** The files in podman's order: the main one, then the drop-ins. */
export function filesInOrder(files: RegistriesFiles): RegistriesConfDocument[] {
  return [files.main, ...files.dropIns];
}

function firstTables(doc: RegistriesConfDocument): Map<string, RegistriesConfDocument['registries'][number]> {
  const first = new Map<string, RegistriesConfDocument['registries'][number]>();
  for (const entry of doc.registries) if (!first.has(entry.settings.prefix)) first.set(entry.settings.prefix, entry);
  return first;
}

/** The file to write for one registry, and what its new table must carry. */
export interface RegistriesWriteTarget {
  /** The document to edit (`toml.exists` false for a file to create). */
  doc: RegistriesConfDocument;
  /** The settings of the table a new drop-in replaces, for {@link planRegistriesAdd}'s `seed`. */
  seed?: RegistryTableSettings;
  /** Why this file, for the user. */
  why: string;
}

/** Options of {@link whereToWrite}. */
export interface WhereToWriteOptions {
  /**
   * Leave the main file alone and write the drop-in {@link DROP_IN_NAME} in the first drop-in folder instead
   * (not with a named main file, whose edit the user asked for).
   */
  dropIn?: boolean;
}

/**
 * The file whose edit makes the effective config "what the user had, plus the mirror":
 * - the last file that defines the registry's table (a drop-in replaces the main file's): edited in place;
 * - else the main file, where the table is created;
 * - with `dropIn`, a new (or dockmirror's own) drop-in carrying the replaced table's settings and mirrors.
 * With a named main file, a drop-in under /etc that replaces the table would leave the edit without effect, and
 * nothing under /etc may be touched: that is a {@link UsageError} saying what to do.
 */
export function whereToWrite(files: RegistriesFiles, registry: string, options: WhereToWriteOptions = {}): RegistriesWriteTarget {
  const prefix = registry.replace(/\/+$/, '');
  const order = filesInOrder(files);
  const definer = order.filter((doc) => firstTables(doc).has(prefix)).at(-1);
  const named = files.located.source === 'flag' || files.located.source === 'env';
  const underSystem = (file: string): boolean => !path.relative(files.located.systemDir, file).startsWith('..');
  if (definer && definer !== files.main) {
    if (named && underSystem(definer.file)) {
      const line = firstTables(definer).get(prefix)?.line ?? 1;
      throw new UsageError(`${definer.file}:${line}: this drop-in replaces the [[registry]] table for ${prefix}, so a mirror added to ${files.main.file} would have no effect; with a named registries.conf dockmirror touches nothing under ${files.located.systemDir}.`, {
        location: { file: definer.file, line },
        hint: `Move that table into ${files.main.file} (podman reads the drop-in after it), or run without ${files.located.source === 'flag' ? '--config-file' : 'CONTAINERS_REGISTRIES_CONF'} to let dockmirror edit the drop-in.`,
      });
    }
    return { doc: definer, why: `${definer.file} holds the [[registry]] table for ${prefix} that podman uses (it replaces any earlier one)` };
  }
  const firstDir = files.located.dropInDirs[0];
  if (options.dropIn && !named && firstDir !== undefined) {
    const file = path.join(firstDir, DROP_IN_NAME);
    const existing = files.dropIns.find((doc) => doc.file === file);
    const doc = existing ?? parseRegistriesConf(file, Buffer.alloc(0), { exists: false });
    const replaced = definer ? firstTables(definer).get(prefix)?.settings : undefined;
    return { doc, ...(replaced ? { seed: replaced } : {}), why: `a drop-in leaves ${files.main.file} as it is${replaced ? `; it carries the settings and mirrors of the table it replaces there` : ''}` };
  }
  return { doc: files.main, why: definer ? `${files.main.file} holds the [[registry]] table for ${prefix}` : `no file has a [[registry]] table for ${prefix}: it is created in the main file, ${files.main.file}` };
}

/** Whether the file is there, as Go's os.Stat sees it (through symlinks); any error counts as no. */
async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
