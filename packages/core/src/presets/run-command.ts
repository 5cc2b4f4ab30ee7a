import { spawn } from 'node:child_process';
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

/** The error of a program found on PATH that another user could have planted or changed. */
function untrusted(message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code: 'EUNTRUSTED' });
}

/**
 * The default {@link RunCommand}: the program is looked up on the child's PATH (skipping empty and relative
 * entries, which mean the current folder) and run only when no other user could have put it there or changed
 * it; then spawned without a shell, with bounded output. At the timeout the program and everything it started are
 * killed with SIGKILL: it runs in a process group of its own, and the whole group is killed, since a `pyrsia`
 * that is a wrapper script hangs in a child of its own, which a kill of the script alone would leave running.
 * dockmirror exiting meanwhile (Ctrl-C) kills the group too. The timeout is reported at once, even when a
 * process that left the group still holds the output open.
 */
export const runCommand: RunCommand = async (file, args, options) => {
  // Windows has no owner bits to prove and looks programs up with PATHEXT: its lookup is left to spawn.
  const program = file.includes('/') || process.platform === 'win32' ? file : await findTrustedProgram(file, options.env ?? process.env);
  // Windows has no process groups; there the program alone is killed. (execFile cannot start a group: it drops
  // `detached`, hence spawn and the bounded collection of the output here.)
  const ownGroup = process.platform !== 'win32';
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.off('exit', killGroup);
      outcome();
    };
    const stopped = (): NodeJS.ErrnoException =>
      Object.assign(new Error(`${file} did not finish within ${options.timeoutMs} ms and was stopped`), { code: 'ETIMEDOUT', killed: true });
    const child = spawn(program, [...args], { env: options.env, detached: ownGroup, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    /** Kills the program's own process group (its pid, made leader by `detached`), or the program alone. */
    function killGroup(): void {
      try {
        if (ownGroup && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
    const output = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    let size = 0;
    for (const name of ['stdout', 'stderr'] as const) {
      child[name].on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_OUTPUT_BYTES) {
          killGroup();
          finish(() => reject(Object.assign(new Error(`${file} printed more than ${MAX_OUTPUT_BYTES} bytes`), { code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', killed: true })));
          return;
        }
        output[name].push(chunk);
      });
    }
    child.on('error', (error) => finish(() => reject(error)));
    // 'close' comes once the program has exited and its output is closed.
    child.on('close', (code) => {
      finish(() => resolve({ stdout: Buffer.concat(output.stdout).toString('utf8'), stderr: Buffer.concat(output.stderr).toString('utf8'), exitCode: code }));
    });
    process.once('exit', killGroup);
    const timer = setTimeout(() => {
      killGroup();
      // Reported now: the group is dead, and a process outside it still holding the output must not hold us.
      finish(() => reject(stopped()));
      child.stdout.destroy();
      child.stderr.destroy();
    }, options.timeoutMs);
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
