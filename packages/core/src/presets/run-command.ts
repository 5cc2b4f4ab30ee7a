import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { UnsafePathError } from '../errors.js';
import { isTrustedUid, trustedPath } from '../support/trusted-path.js';

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
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      if (!(await stat(candidate)).isFile()) continue;
      await access(candidate, constants.X_OK);
    } catch {
      continue;
    }
    const proven = await proveProgram(candidate);
    if ('reason' in proven) throw untrusted(`${candidate} is not run: ${proven.reason}`);
    return proven.real;
  }
  throw Object.assign(new Error(`${name} not found on PATH`), { code: 'ENOENT' });
}

/** Why `file` could have been planted or changed by another user, or `undefined`; exported for tests. */
export async function untrustedProgramReason(file: string): Promise<string | undefined> {
  const proven = await proveProgram(file);
  return 'reason' in proven ? proven.reason : undefined;
}

/**
 * A program is trusted when every folder to it passes the rule root applies to everything it writes
 * ({@link trustedPath}, strict: its own folder may not be writable by others even when sticky), and the file
 * itself is root's or the caller's and writable by nobody else.
 */
async function proveProgram(file: string): Promise<{ real: string } | { reason: string }> {
  let found;
  try {
    found = await trustedPath(file, { what: 'folder of the program', strict: true });
  } catch (error) {
    if (!(error instanceof UnsafePathError)) throw error;
    return { reason: `${String(error.details?.path)} ${String(error.details?.reason)}` };
  }
  const { path: real, info } = found;
  if (!info?.isFile()) return { reason: `${real} is not a regular file` };
  if (!isTrustedUid(info.uid)) return { reason: `${real} belongs to uid ${info.uid}, not to root or to you` };
  if ((info.mode & 0o022) !== 0) return { reason: `${real} is writable by group or others` };
  return { real };
}
