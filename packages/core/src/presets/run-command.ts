import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, lstat, readlink, stat } from 'node:fs/promises';
import path from 'node:path';

/** What a finished external command produced. */
export interface CommandOutput {
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
  /** Exit code, or `null` when a signal ended it. */
  exitCode: number | null;
}

/** Options for a {@link RunCommand} call. */
export interface RunCommandOptions {
  /** Environment for the child; its PATH is where the command is looked up. */
  env?: NodeJS.ProcessEnv;
  /** Kill the command after this long. */
  timeoutMs: number;
}

/**
 * Runs a program without a shell. Resolves with the output even on a non-zero exit (some CLIs, like
 * `pyrsia`, report errors on stdout with exit 0, so callers judge by text); rejects only when the program could
 * not be started (`code: 'ENOENT'` when it is not on PATH, `code: 'EUNTRUSTED'` when someone else could have
 * put it there) or ran past the timeout.
 */
export type RunCommand = (file: string, args: readonly string[], options: RunCommandOptions) => Promise<CommandOutput>;

/** Output kept from a program; more kills it. */
const MAX_OUTPUT_BYTES = 1024 * 1024;
/** How long past its timeout a killed program may take to close its output before it is given up on. */
const CLOSE_GRACE_MS = 1000;
/** The sticky bit: in such a folder only an entry's owner may rename or remove it. */
const STICKY = 0o1000;
/** Symlinks followed while proving a program's path, as the kernel's own limit. */
const MAX_SYMLINK_HOPS = 40;

/** The error of a program found on PATH that another user could have planted or changed. */
function untrusted(message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code: 'EUNTRUSTED' });
}

/**
 * The default {@link RunCommand}: the program is looked up on the child's PATH (skipping empty and relative
 * entries, which mean the current folder) and run only when no other user could have put it there or changed
 * it; then `execFile`, no shell, bounded output, killed with SIGKILL at the timeout and given up on soon after
 * even if a child of it keeps the output open.
 */
export const runCommand: RunCommand = async (file, args, options) => {
  // Windows has no owner bits to prove and looks programs up with PATHEXT: its lookup is left to execFile.
  const program = file.includes('/') || process.platform === 'win32' ? file : await findTrustedProgram(file, options.env ?? process.env);
  return new Promise((resolve, reject) => {
    let settled = false;
    const child = execFile(
      program,
      [...args],
      { env: options.env, timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT_BYTES, windowsHide: true, encoding: 'utf8' },
      (error, stdout, stderr) => {
        clearTimeout(backstop);
        if (settled) return;
        settled = true;
        if (error && (typeof error.code === 'string' || error.killed)) {
          reject(error);
          return;
        }
        const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ stdout, stderr, exitCode });
      },
    );
    // execFile reports only once the output closes: a grandchild holding it open would hold dockmirror too.
    const backstop = setTimeout(() => {
      settled = true;
      child.stdout?.destroy();
      child.stderr?.destroy();
      reject(Object.assign(new Error(`${file} did not finish within ${options.timeoutMs} ms`), { code: 'ETIMEDOUT', killed: true }));
    }, options.timeoutMs + CLOSE_GRACE_MS);
  });
};

/**
 * The path of `name` on `env.PATH` as execvp would find it, proven to be this user's or root's: see
 * {@link untrustedProgramReason}. Rejects with `code: 'ENOENT'` when it is not on PATH and `code: 'EUNTRUSTED'`
 * when the first one found is not trusted (a later one is not tried: that is not the program the user meant).
 */
export async function findTrustedProgram(name: string, env: NodeJS.ProcessEnv): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      if (!(await stat(candidate)).isFile()) continue;
      await access(candidate, constants.X_OK);
    } catch {
      continue;
    }
    const proven = await provePath(candidate, uid);
    if ('reason' in proven) throw untrusted(`${candidate} is not run: ${proven.reason}`);
    return proven.real;
  }
  throw Object.assign(new Error(`${name} not found on PATH`), { code: 'ENOENT' });
}

/** Why `file` could have been planted or changed by another user, or `undefined`; exported for tests. */
export async function untrustedProgramReason(file: string, uid: number): Promise<string | undefined> {
  const proven = await provePath(file, uid);
  return 'reason' in proven ? proven.reason : undefined;
}

/**
 * Walks `target` from `/` one component at a time, following symlinks by hand, and proves each folder on the way
 * and the file itself: owned by `uid` or root and writable by neither group nor others. A sticky folder such as
 * `/tmp` may be on the way, as long as what is taken from it is `uid`'s or root's, but not the folder holding
 * the program. A symlink is as trustworthy as the folder holding it, so its target is then proven from `/`.
 */
async function provePath(target: string, uid: number, hops = { left: MAX_SYMLINK_HOPS }): Promise<{ real: string } | { reason: string }> {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  let dir: string = path.sep;
  let dirInfo = await lstat(dir);
  for (const [i, part] of parts.entries()) {
    const last = i === parts.length - 1;
    const next = path.join(dir, part);
    let info;
    try {
      info = await lstat(next);
    } catch (error) {
      return { reason: `${next}: ${(error as NodeJS.ErrnoException).code ?? 'cannot stat'}` };
    }
    const foreign = info.uid !== uid && info.uid !== 0;
    if (foreign) return { reason: `${next} is owned by uid ${info.uid}` };
    if (writableByOthers(dirInfo.mode) && (last || !(dirInfo.mode & STICKY))) {
      return { reason: `${dir} is writable by group or others` };
    }
    if (info.isSymbolicLink()) {
      hops.left -= 1;
      if (hops.left < 0) return { reason: `${target}: too many symlinks` };
      const resolved = await provePath(path.resolve(dir, await readlink(next)), uid, hops);
      if ('reason' in resolved) return resolved;
      if (last) return resolved;
      dir = resolved.real;
      dirInfo = await lstat(dir);
      continue;
    }
    if (last) {
      if (!info.isFile()) return { reason: `${next} is not a regular file` };
      if (writableByOthers(info.mode)) return { reason: `${next} is writable by group or others` };
      return { real: next };
    }
    if (!info.isDirectory()) return { reason: `${next} is not a folder` };
    dir = next;
    dirInfo = info;
  }
  return { reason: `${target} is not a file` };
}

function writableByOthers(mode: number): boolean {
  return (mode & 0o022) !== 0;
}
