/** Each errno gets one message, one hint and one code: the exit code a user sees depends on it. */
import { describe, expect, it } from 'vitest';
import { DockmirrorError } from '../../src/errors.js';
import { fsError, isCode } from '../../src/support/fs-errors.js';

const sys = (code: string) => Object.assign(new Error(`${code}: something`), { code });

describe('fsError', () => {
  it.each([
    ['EACCES', 'write', 'PERMISSION', 'Permission denied: cannot write /f.', 'Run the same command again with sudo.'],
    ['EPERM', 'read', 'PERMISSION', 'Permission denied: cannot read /f.', 'Run the same command again with sudo.'],
    ['EROFS', 'write', 'PERMISSION', 'Cannot write /f: the file system is read-only.', 'Point --config-file at a writable daemon.json, or remount the file system read-write.'],
    ['ENOSPC', 'write', 'WRITE_FAILED', 'Cannot write /f: the disk is full (ENOSPC); nothing was changed.', 'Free some space on that file system (df -h shows it), then run the command again.'],
    ['EDQUOT', 'write', 'WRITE_FAILED', 'Cannot write /f: the disk quota is used up (EDQUOT); nothing was changed.', 'Free some space on that file system (df -h shows it), then run the command again.'],
    ['EFBIG', 'write', 'WRITE_FAILED', 'Cannot write /f: the file is too large for the file system (EFBIG); nothing was changed.', 'Free some space on that file system (df -h shows it), then run the command again.'],
    ['EIO', 'read', 'WRITE_FAILED', 'Cannot read /f: the disk reported an I/O error (EIO); nothing was changed.', 'Free some space on that file system (df -h shows it), then run the command again.'],
    ['ENOENT', 'write', 'WRITE_FAILED', 'Cannot write /f: the file system does not let a file or folder be created there.', 'Use a path on an ordinary file system (not /proc or /sys).'],
    ['ELOOP', 'read', 'UNSAFE_PATH', 'Refusing to read /f: it is a symlink, and dockmirror does not follow symlinks there.', 'Remove the symlink /f; dockmirror recreates what it needs.'],
    ['EISDIR', 'write', 'UNSAFE_PATH', 'Cannot write /f: it is a folder, not a file.', 'Move /f (or the file in its way) aside; dockmirror recreates what it needs.'],
    ['ENOTDIR', 'read', 'UNSAFE_PATH', 'Cannot read /f: a folder on its path is a file.', 'Move /f (or the file in its way) aside; dockmirror recreates what it needs.'],
    ['ENOENT', 'read', 'UNEXPECTED', 'Cannot read /f: ENOENT: something', 'Check the path and the disk, then try again.'],
    ['EWHATEVER', 'write', 'UNEXPECTED', 'Cannot write /f: EWHATEVER: something', 'Check the path and the disk, then try again.'],
  ] as const)('%s on %s is %s', (errno, action, code, message, hint) => {
    const cause = sys(errno);
    const error = fsError(cause, '/f', action);
    expect(error).toBeInstanceOf(DockmirrorError);
    expect({ code: error.code, message: error.message, hint: error.hint, location: error.location }).toEqual({ code, message, hint, location: { file: '/f' } });
    expect(error.cause).toBe(cause);
    if (code !== 'UNEXPECTED') expect(error.details).toEqual({ errno });
  });

  it('passes a dockmirror error through as it is', () => {
    const own = new DockmirrorError('DRIFT', 'changed');
    expect(fsError(own, '/f', 'write')).toBe(own);
  });

  it('an error without a code is UNEXPECTED with its message', () => {
    expect(fsError(new Error('odd'), '/f', 'read').message).toBe('Cannot read /f: odd');
  });
});

describe('isCode', () => {
  it('matches only an object whose code is that string', () => {
    expect(isCode(sys('ENOENT'), 'ENOENT')).toBe(true);
    expect(isCode(sys('ENOENT'), 'EEXIST')).toBe(false);
    expect(isCode(null, 'ENOENT')).toBe(false);
    expect(isCode('ENOENT', 'ENOENT')).toBe(false);
  });
});
