import { lstat, mkdir, readFile, readlink, realpath, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { DockmirrorError, InvalidConfigError, PermissionDeniedError } from '../errors.js';
import { parseDaemonConfig, type DaemonConfigDocument } from './document.js';

/**
 * Reads and strictly parses daemon.json. A missing file reads as `{}`; a directory, device or other non-regular
 * file is refused. Permission problems become {@link PermissionDeniedError}.
 */
export async function readDaemonConfig(file: string): Promise<DaemonConfigDocument> {
  let bytes: Buffer;
  try {
    const target = await stat(file);
    if (!target.isFile()) {
      throw new InvalidConfigError(`${file} is not a regular file.`, {
        location: { file },
        hint: 'Point --config-file at the daemon.json file itself.',
      });
    }
    bytes = await readFile(file);
  } catch (error) {
    if (error instanceof DockmirrorError) throw error;
    if (isCode(error, 'ENOENT')) return parseDaemonConfig(file, Buffer.alloc(0), false);
    throw fsError(error, file, 'read');
  }
  return parseDaemonConfig(file, bytes);
}

/**
 * Where a write to `file` really lands: a symlinked daemon.json has its target written so the link stays a
 * link. Dangling links resolve to the path they name.
 */
export async function resolveWriteTarget(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw fsError(error, file, 'read');
  }
  try {
    const info = await lstat(file);
    if (info.isSymbolicLink()) return path.resolve(path.dirname(file), await readlink(file));
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw fsError(error, file, 'read');
  }
  return path.resolve(file);
}

/**
 * Replaces `file` with `bytes` atomically (temp file in the same folder, fsync, rename), keeping the file's
 * mode and owner. `bytes === undefined` removes the file (rollback to "did not exist"). The folder is created
 * when missing.
 */
export async function writeDaemonConfig(file: string, bytes: Buffer | undefined, mode?: number): Promise<void> {
  const target = await resolveWriteTarget(file);
  try {
    if (bytes === undefined) {
      await unlink(target).catch((error: unknown) => {
        if (!isCode(error, 'ENOENT')) throw error;
      });
      return;
    }
    const current = await stat(target).catch((error: unknown) => {
      if (isCode(error, 'ENOENT')) return undefined;
      throw error;
    });
    if (!current) await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    await writeFileAtomic(target, bytes, {
      fsync: true,
      mode: mode ?? (current ? current.mode & 0o7777 : 0o644),
      ...(current ? { chown: { uid: current.uid, gid: current.gid } } : {}),
    });
  } catch (error) {
    throw fsError(error, file, 'write');
  }
}

/** Whether an error is a Node system error with the given code. */
export function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

/** Turns a Node fs error into a dockmirror error that names the file and says what to do. */
export function fsError(error: unknown, file: string, action: 'read' | 'write'): DockmirrorError {
  if (error instanceof DockmirrorError) return error;
  if (isCode(error, 'EACCES') || isCode(error, 'EPERM') || isCode(error, 'EROFS')) {
    const readOnly = isCode(error, 'EROFS');
    return new PermissionDeniedError(
      readOnly
        ? `Cannot ${action} ${file}: the file system is read-only.`
        : `Permission denied: cannot ${action} ${file}.`,
      {
        cause: error,
        location: { file },
        hint: readOnly
          ? 'Point --config-file at a writable daemon.json, or remount the file system read-write.'
          : 'Run the same command again with sudo.',
        details: { errno: (error as { code?: string }).code },
      },
    );
  }
  const code = (error as { code?: string }).code ?? 'unknown';
  return new DockmirrorError('UNEXPECTED', `Cannot ${action} ${file}: ${(error as Error).message ?? code}`, {
    cause: error,
    location: { file },
    hint: 'Check the path and the disk, then try again.',
  });
}

