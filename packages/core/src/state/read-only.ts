/**
 * Read-only commands run by a user who is not root. daemon.json is world-readable, but the state folder beside
 * it is root's and 0700, so its journal cannot be read. `mirror list`, `backups`, `status` and a dry run need the
 * journal only for extras (which insecure entries dockmirror added, the backups); they show what they can read
 * and say what they could not, instead of failing with exit 4. A command that writes still meets the
 * permission error in full, under the lock, where it belongs.
 */
import { DockmirrorError } from '../errors.js';

/**
 * Runs `read` (a read of the state folder); when the caller may not read it, returns `fallback` and adds one line
 * to `warnings` saying what could not be read, what that leaves out (`missing`), and how to see it.
 */
export async function readableState<T>(read: () => Promise<T>, fallback: T, stateDir: string, missing: string, warnings: string[]): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof DockmirrorError) || error.code !== 'PERMISSION') throw error;
    const uid = process.getuid?.();
    const who = uid === undefined ? 'this user' : `uid ${uid}`;
    const line = `Cannot read dockmirror's state folder ${stateDir} as ${who} (${error.message.replace(/\.$/, '')}), so ${missing}. Run it with sudo to see that too.`;
    if (!warnings.includes(line)) warnings.push(line);
    return fallback;
  }
}
