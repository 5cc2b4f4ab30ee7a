/** Runs code as if on another OS, for the branches of core that read `process.platform` or `process.getuid` directly. */

/**
 * Runs `work` with `process.platform` answering win32, and puts the real value back after it, even when it
 * throws. Only code that reads `process.platform` itself is affected; nothing runs on Windows.
 */
export async function onWindows<T>(work: () => Promise<T>): Promise<T> {
  const platform = Object.getOwnPropertyDescriptor(process, 'platform') as PropertyDescriptor;
  Object.defineProperty(process, 'platform', { ...platform, value: 'win32' });
  try {
    return await work();
  } finally {
    Object.defineProperty(process, 'platform', platform);
  }
}

/**
 * Runs `work` with neither `process.getuid` nor `process.getgid` there, as on Windows, and puts them back after
 * it, even when it throws: for the branches of core that ask whether there are uids at all.
 */
export async function withoutUids<T>(work: () => Promise<T>): Promise<T> {
  const { getuid, getgid } = process;
  process.getuid = undefined;
  process.getgid = undefined;
  try {
    return await work();
  } finally {
    process.getuid = getuid;
    process.getgid = getgid;
  }
}
