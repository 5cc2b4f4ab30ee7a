import type { Stats } from 'node:fs';
import path from 'node:path';
import { lstat } from 'node:fs/promises';
import { DriftError, InvalidConfigError } from '../errors.js';
import { writeAtomic } from '../support/atomic-write.js';
import { BoundedReadError, readBoundedWithStat } from '../support/bounded-read.js';
import { fsError, isCode, unlinkIfPresent } from '../support/fs-errors.js';
import { trustedPath } from '../support/trusted-path.js';
import { parseDaemonConfig, type DaemonConfigDocument } from './document.js';

export { fsError, isCode } from '../support/fs-errors.js';

/** The largest daemon.json read: far beyond any real one, small enough that a hostile file cannot fill memory. */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

/** What a document was read from, so a write can tell whether someone changed the file since. */
interface Identity {
  exists: boolean;
  dev?: number;
  ino?: number;
  size?: number;
  mtimeMs?: number;
}
const identities = new WeakMap<object, Identity>();

/** A config file's bytes as read, with what a later write checks it against (see {@link WriteConfigOptions.expect}). */
export interface ConfigBytes {
  /** The file read. */
  file: string;
  /** Whether it existed; a missing file has no bytes. */
  exists: boolean;
  /** Its bytes (empty when it did not exist). */
  bytes: Buffer;
}

/**
 * Reads daemon.json's raw bytes and the identity of what was read; `undefined` when it does not exist. A
 * directory, FIFO, device or a file over {@link MAX_CONFIG_BYTES} is an {@link InvalidConfigError}.
 */
export async function readConfigBytes(file: string): Promise<{ bytes: Buffer; info: Stats } | undefined> {
  try {
    return await readBoundedWithStat(file, { maxBytes: MAX_CONFIG_BYTES });
  } catch (error) {
    if (error instanceof BoundedReadError) {
      const tooLarge = error.reason === 'too-large';
      throw new InvalidConfigError(tooLarge ? `${file} is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB.` : `${file} is not a regular file.`, {
        location: { file },
        hint: tooLarge ? 'That is no daemon.json; point --config-file at the real one.' : 'Point --config-file at the daemon.json file itself.',
      });
    }
    if (isCode(error, 'EISDIR')) throw new InvalidConfigError(`${file} is not a regular file.`, { location: { file }, hint: 'Point --config-file at the daemon.json file itself.' });
    throw fsError(error, file, 'read');
  }
}

/**
 * Reads any config file's bytes, bounded and refusing what is not a regular file, and remembers what was read
 * so that a write planned from it can refuse to overwrite an edit made since.
 */
export async function readConfigFile(file: string): Promise<ConfigBytes> {
  const read = await readConfigBytes(file);
  const raw = { file, exists: read !== undefined, bytes: read?.bytes ?? Buffer.alloc(0) };
  identities.set(raw, identityOf(read?.info));
  return raw;
}

/** Marks `doc` as read from the same bytes as `raw`, for the write's race check. */
export function sameIdentity<T extends object>(doc: T, raw: ConfigBytes): T {
  const identity = identities.get(raw);
  if (identity) identities.set(doc, identity);
  return doc;
}

/**
 * Reads and strictly parses daemon.json. A missing file reads as `{}`; a directory, device or other non-regular
 * file is refused. Permission problems become {@link PermissionDeniedError}.
 */
export async function readDaemonConfig(file: string): Promise<DaemonConfigDocument> {
  const raw = await readConfigFile(file);
  return sameIdentity(parseDaemonConfig(file, raw.bytes, raw.exists), raw);
}

/**
 * daemon.json as it is, for a rollback that must work even when the file no longer parses (a full disk or a
 * bad hand edit broke it): the strict document when it parses, else its raw bytes with no mirror keys.
 */
export async function readDaemonConfigLeniently(file: string): Promise<DaemonConfigDocument> {
  const raw = await readConfigFile(file);
  return sameIdentity(parseDaemonConfigLeniently(raw), raw);
}

/** {@link readDaemonConfigLeniently} for bytes already read. */
export function parseDaemonConfigLeniently(raw: ConfigBytes): DaemonConfigDocument {
  try {
    return parseDaemonConfig(raw.file, raw.bytes, raw.exists);
  } catch (error) {
    if (!(error instanceof InvalidConfigError) || !raw.exists) throw error;
    const text = raw.bytes.toString('utf8').replace(/^\uFEFF/, '');
    return {
      file: raw.file,
      exists: true,
      bytes: raw.bytes,
      text,
      bom: raw.bytes[0] === 0xef,
      eol: text.includes('\r\n') ? '\r\n' : '\n',
      indent: { insertSpaces: true, tabSize: 2 },
      mirrors: undefined,
      insecureRegistries: undefined,
    };
  }
}

function identityOf(info: Stats | undefined): Identity {
  return info ? { exists: true, dev: info.dev, ino: info.ino, size: info.size, mtimeMs: info.mtimeMs } : { exists: false };
}

/**
 * Where a write to `file` really lands, checked on the way: a symlinked daemon.json has its target written so
 * the link stays a link, but only a symlink owned by root or the caller is followed, and every folder on the
 * way must be one nobody else can write (see {@link trustedFolder}). With `create`, missing folders are made
 * (mode 0755), one level at a time.
 * @throws UnsafePathError naming the folder or symlink another user controls.
 */
export async function resolveWriteTarget(file: string, create = false): Promise<string> {
  return (await trustedPath(file, { what: `folder of ${path.basename(file)}`, ...(create ? { create: 0o755 } : {}) })).path;
}

/** Options of {@link writeConfigFile}. */
export interface WriteConfigOptions {
  /** Mode for a file that has to be created (default 0644; an existing file keeps its own). */
  mode?: number;
  /**
   * The document the new bytes were planned from: just before the rename, the file must still be exactly what
   * was read (same inode, size, mtime and bytes), or the write is refused with {@link DriftError} so that an
   * editor writing at the same moment is never overwritten.
   */
  expect?: { bytes: Buffer };
}

/**
 * Replaces a config file (daemon.json, hosts.toml, registries.conf) with `bytes` atomically (see {@link writeAtomic}), keeping the file's mode and owner.
 * `bytes === undefined` removes the file (rollback to "did not exist"). Missing folders are created.
 */
export async function writeConfigFile(file: string, bytes: Buffer | undefined, options: WriteConfigOptions = {}): Promise<void> {
  const target = await resolveWriteTarget(file, bytes !== undefined);
  const expect = options.expect;
  const unchanged = expect ? () => assertUnchanged(file, target, expect) : async () => undefined;
  try {
    if (bytes === undefined) {
      await unchanged();
      await unlinkIfPresent(target);
      return;
    }
    const current = await lstat(target).catch((error: unknown) => {
      if (isCode(error, 'ENOENT')) return undefined;
      throw error;
    });
    await writeAtomic(target, bytes, {
      mode: current ? current.mode & 0o7777 : (options.mode ?? 0o644),
      ...(current ? { owner: { uid: current.uid, gid: current.gid } } : {}),
      beforeRename: unchanged,
    });
  } catch (error) {
    throw fsError(error, file, 'write');
  }
}

async function assertUnchanged(file: string, target: string, doc: { bytes: Buffer }): Promise<void> {
  const before = identities.get(doc);
  const now = await readConfigBytes(target).catch(() => undefined);
  const same =
    before !== undefined &&
    (now === undefined
      ? !before.exists
      : before.exists &&
        now.info.dev === before.dev &&
        now.info.ino === before.ino &&
        now.info.size === before.size &&
        now.info.mtimeMs === before.mtimeMs &&
        now.bytes.equals(doc.bytes));
  if (!same) {
    throw new DriftError(`${file} changed while dockmirror was changing it: another program wrote it at the same moment. Nothing was written.`, {
      location: { file },
      hint: 'Let the other program (an editor, a script, configuration management) finish, then run the command again.',
      details: { raced: true },
    });
  }
}
