/**
 * Turning Node's fs errors into dockmirror errors that name the file and say what to do next. Every fs call in
 * the core ends up here, so each errno gets one message and one exit code.
 */
import { existsSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import { DockmirrorError, PermissionDeniedError, UnsafePathError, WriteFailedError } from '../errors.js';

/** Whether an error is a Node system error with the given code. */
export function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

/**
 * Removes the file `file` if it is there; a missing one is no error, and a folder (or anything else unlink
 * refuses) is. unlink rather than `fs.rm(file, { force: true })`, which does the same for a file but loads its
 * whole recursive remover on first use: 0.5 ms of every change.
 */
export async function unlinkIfPresent(file: string): Promise<void> {
  await unlink(file).catch((error: unknown) => {
    if (!isCode(error, 'ENOENT')) throw error;
  });
}

/** errnos that mean the disk could not take the bytes: the write is refused and nothing changes. */
const NO_ROOM = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO']);

/**
 * What to do about a file the caller may not touch. On Windows there is no sudo, and a denied write is as
 * often a program holding the file (Docker Desktop, an editor, antivirus) as a missing right. Elsewhere a system
 * file is root's: run again with sudo. A file in the user's own home folder (rootless Docker's daemon.json,
 * Docker Desktop's, the presets) should be the user's: sudo would only make it root's for good, so the hint is
 * to take it back.
 */
export function permissionHint(file: string, options: { platform?: NodeJS.Platform; home?: string } = {}): string {
  if ((options.platform ?? process.platform) === 'win32') {
    return 'Run the same command again from an elevated prompt (right-click the terminal, Run as administrator); if Docker Desktop, an editor or antivirus holds the file, close it first.';
  }
  const home = options.home ?? safeHomedir();
  if (home === '' || home === '/' || !path.resolve(file).startsWith(home + path.sep)) return 'Run the same command again with sudo.';
  let user = '$USER';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): the shell's $USER says the same.
  }
  // A file or folder that could not be created is not there to chown: its folder is what must become the user's.
  let owned = path.resolve(file);
  while (!existsSync(owned) && path.dirname(owned) !== owned) owned = path.dirname(owned);
  return `It is in your home folder, so it should be yours: take it back with sudo chown ${user} '${owned.replaceAll("'", "'\\''")}' rather than running dockmirror with sudo, which would leave it root's.`;
}

function safeHomedir(): string {
  try {
    return homedir();
  } catch {
    return '';
  }
}

/** Turns a Node fs error into a dockmirror error that names the file and says what to do. */
export function fsError(error: unknown, file: string, action: 'read' | 'write', platform: NodeJS.Platform = process.platform): DockmirrorError {
  if (error instanceof DockmirrorError) return error;
  const errno = (error as { code?: string }).code ?? 'unknown';
  if (errno === 'EBUSY') {
    // Windows: another program opened the file without sharing it (an editor, Docker Desktop, antivirus).
    return new PermissionDeniedError(`Cannot ${action} ${file}: another program has it open and locked (EBUSY).`, {
      cause: error,
      location: { file },
      hint: platform === 'win32'
        ? 'Close the program holding it (Docker Desktop\'s settings, an editor, a backup or antivirus scan), then run the command again.'
        : 'Find the process holding it (fuser or lsof), let it finish, then run the command again.',
      details: { errno },
    });
  }
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') {
    const readOnly = errno === 'EROFS';
    return new PermissionDeniedError(
      readOnly ? `Cannot ${action} ${file}: the file system is read-only.` : `Permission denied: cannot ${action} ${file}.`,
      {
        cause: error,
        location: { file },
        hint: readOnly ? 'Point --config-file at a writable daemon.json, or remount the file system read-write.' : permissionHint(file, { platform }),
        details: { errno },
      },
    );
  }
  if (NO_ROOM.has(errno)) {
    const why = errno === 'ENOSPC' ? 'the disk is full' : errno === 'EDQUOT' ? 'the disk quota is used up' : errno === 'EFBIG' ? 'the file is too large for the file system' : 'the disk reported an I/O error';
    return new WriteFailedError(`Cannot ${action} ${file}: ${why} (${errno}); nothing was changed.`, {
      cause: error,
      location: { file },
      hint: 'Free some space on that file system (df -h shows it), then run the command again.',
      details: { errno },
    });
  }
  if (errno === 'ENOENT' && action === 'write') {
    return new WriteFailedError(`Cannot write ${file}: the file system does not let a file or folder be created there.`, {
      cause: error,
      location: { file },
      hint: 'Use a path on an ordinary file system (not /proc or /sys).',
      details: { errno },
    });
  }
  if (errno === 'ELOOP') {
    return new UnsafePathError(`Refusing to ${action} ${file}: it is a symlink, and dockmirror does not follow symlinks there.`, {
      cause: error,
      location: { file },
      hint: `Remove the symlink ${file}; dockmirror recreates what it needs.`,
      details: { errno },
    });
  }
  if (errno === 'ENOTDIR' || errno === 'EISDIR') {
    return new UnsafePathError(`Cannot ${action} ${file}: ${errno === 'EISDIR' ? 'it is a folder, not a file' : 'a folder on its path is a file'}.`, {
      cause: error,
      location: { file },
      hint: `Move ${file} (or the file in its way) aside; dockmirror recreates what it needs.`,
      details: { errno },
    });
  }
  return new DockmirrorError('UNEXPECTED', `Cannot ${action} ${file}: ${(error as Error).message ?? errno}`, {
    cause: error,
    location: { file },
    hint: 'Check the path and the disk, then try again.',
  });
}
