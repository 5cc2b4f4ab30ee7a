/**
 * Reading a file that someone else may control, with bounds: a FIFO must not block, `/dev/zero` must not fill
 * memory, and a symlink is followed only when the caller says so. Every small input dockmirror reads (presets,
 * the docker CLI config, a Pyrsia config, a pidfile, state files) goes through here.
 */
import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/** Options of {@link readBounded}. */
export interface BoundedReadOptions {
  /** Refuse a file larger than this many bytes. */
  maxBytes: number;
  /** Open a symlink's target (default `true`); `false` refuses a symlink at the last path component (ELOOP). */
  followSymlinks?: boolean;
}

/** Why {@link readBounded} refused a file. */
export class BoundedReadError extends Error {
  constructor(
    /** `not-regular` (FIFO, device, folder) or `too-large`. */
    readonly reason: 'not-regular' | 'too-large',
    /** The file. */
    readonly file: string,
    /** The bound that was passed, for `too-large`. */
    readonly maxBytes: number,
  ) {
    super(reason === 'too-large' ? `${file} is larger than ${maxBytes} bytes` : `${file} is not a regular file`);
    this.name = 'BoundedReadError';
  }
}

/**
 * Reads a regular file of at most `maxBytes`. Resolves `undefined` when it does not exist. The file is opened
 * non-blocking (a FIFO opens at once and is then refused by fstat) and the size is checked on the open handle,
 * so a file swapped after a stat cannot slip past; reading stops one byte past the bound in case it grows.
 * @throws BoundedReadError for a non-regular or too large file; other fs errors (EACCES, ELOOP) as Node raises them.
 */
export async function readBounded(file: string, options: BoundedReadOptions): Promise<Buffer | undefined> {
  return (await readBoundedWithStat(file, options))?.bytes;
}

/**
 * {@link readBounded}, plus the fstat of the handle the bytes came from: the identity (device, inode, size,
 * mtime) of exactly what was read, for checking later that nobody replaced or rewrote the file since.
 */
export async function readBoundedWithStat(file: string, options: BoundedReadOptions): Promise<{ bytes: Buffer; info: Stats } | undefined> {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (options.followSymlinks === false ? constants.O_NOFOLLOW : 0);
  let handle;
  try {
    handle = await open(file, flags);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new BoundedReadError('not-regular', file, options.maxBytes);
    if (info.size > options.maxBytes) throw new BoundedReadError('too-large', file, options.maxBytes);
    // Sized from fstat, grown only if the file grows while it is read, never past the bound. A file of /proc says
    // size 0: it starts at a page, not at one byte doubled read by read (nine reads for /proc/version).
    let buffer = Buffer.alloc(Math.min(options.maxBytes + 1, info.size === 0 ? 4096 : info.size + 1));
    let length = 0;
    for (;;) {
      if (length === buffer.length) buffer = Buffer.concat([buffer, Buffer.alloc(Math.min(buffer.length, options.maxBytes + 1 - length))]);
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > options.maxBytes) throw new BoundedReadError('too-large', file, options.maxBytes);
    }
    return { bytes: buffer.subarray(0, length), info };
  } finally {
    await handle.close();
  }
}
