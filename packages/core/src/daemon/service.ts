/**
 * Telling the daemon to pick up daemon.json: the least disruptive way each setup allows, and running it
 * without a shell. Whether it worked is decided by confirmLive, never by the command's exit code: a rejected
 * reload is only logged by dockerd and `systemctl reload` still exits 0.
 */
import { execFile } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { ApplyError, InvalidMirrorError, UsageError } from '../errors.js';
import { goParseUrl, mirrorRulesFor } from '../mirror/net-url.js';
import { readBounded } from '../support/bounded-read.js';
import { desktopHasCli } from './desktop.js';
import { distrustPid } from './dockerd-process.js';
import type { DaemonSetup } from './setup.js';
import { folderWarning, trustedUids } from './socket-proof.js';

/** What the caller asked for: `auto` reloads where possible and restarts otherwise. */
export type ApplyRequest = 'auto' | 'reload' | 'restart';

/**
 * A SIGHUP to a dockerd; `pidFile` is re-read at run time because a restart changes the pid. Whichever pid is
 * used must still be a trusted dockerd (root's or the caller's) and, when `endpoint` is set, hold its socket.
 */
export interface SignalCommand {
  signal: 'SIGHUP';
  pid: number;
  pidFile?: string;
  /** The endpoint the dockerd must be proven to serve. */
  endpoint?: string;
}

/** How a change will be applied. */
export interface ApplyPlan {
  /** Reload keeps containers running; restart may not. */
  method: 'reload' | 'restart';
  /** An argv to run (no shell), or a signal to send. */
  command: string[] | SignalCommand;
  /** Whether running containers will be stopped. */
  stopsContainers: boolean;
  /** One line saying why this way, for humans. */
  why: string;
}

/**
 * Choose how to apply for `setup`.
 * @throws UsageError when the setup cannot do what was asked (reload on Desktop, restart of a bare dockerd, unknown setup).
 */
export function applyMethodFor(setup: DaemonSetup, requested: ApplyRequest): ApplyPlan {
  const restart = (command: string[], why: string): ApplyPlan => ({
    method: 'restart',
    command,
    stopsContainers: setup.restartStopsContainers,
    why,
  });
  const reload = (command: string[] | SignalCommand, why: string): ApplyPlan => ({ method: 'reload', command, stopsContainers: false, why });
  const sighup = (): SignalCommand | undefined =>
    setup.pid === undefined
      ? undefined
      : {
          signal: 'SIGHUP',
          pid: setup.pid,
          ...(setup.pidFile ? { pidFile: setup.pidFile } : {}),
          ...(setup.endpoint ? { endpoint: setup.endpoint } : {}),
        };
  const cannot = (what: string, reason: string, hint: string): never => {
    throw new UsageError(`Cannot ${what} this Docker daemon (setup: ${setup.kind}): ${reason}.`, {
      hint,
      details: { setup: setup.kind, requested },
    });
  };
  const wantRestart = requested === 'restart';
  // Colima, Rancher Desktop, an unclear WSL profile: the engine cannot be changed through any file here.
  if (setup.engineRefusal) throw setup.engineRefusal;

  switch (setup.kind) {
    case 'systemd':
      return wantRestart
        ? restart(['systemctl', 'restart', 'docker'], 'systemd service: restart requested')
        : reload(['systemctl', 'reload', 'docker'], 'systemd service: reload sends SIGHUP to dockerd');
    case 'rootless':
      return wantRestart
        ? restart(['systemctl', '--user', 'restart', 'docker'], 'rootless user service: restart requested')
        : reload(['systemctl', '--user', 'reload', 'docker'], 'rootless user service: reload sends SIGHUP to dockerd');
    case 'openrc':
      return wantRestart
        ? restart(['rc-service', 'docker', 'restart'], 'OpenRC service: restart requested')
        : reload(['rc-service', 'docker', 'reload'], 'OpenRC service: reload sends SIGHUP to dockerd');
    case 'snap':
    case 'sysvinit': {
      const service = setup.kind === 'snap' ? ['snap', 'restart', 'docker'] : ['service', 'docker', 'restart'];
      const signal = sighup();
      if (!wantRestart && signal) return reload(signal, `${setup.kind}: no reload verb, so SIGHUP to dockerd (pid ${signal.pid})`);
      if (requested === 'reload') cannot('reload', 'the dockerd process is not visible from here', 'Use restart instead.');
      return restart(service, wantRestart ? `${setup.kind}: restart requested` : `${setup.kind}: dockerd not visible, so restart`);
    }
    case 'plain': {
      if (wantRestart) cannot('restart', 'no service manager runs this dockerd', 'Restart it yourself, or use reload (SIGHUP).');
      const signal = sighup() ?? cannot('reload', 'its pid is unknown', 'Send dockerd SIGHUP yourself (kill -HUP <pid>).');
      return reload(signal, `dockerd without a service manager: SIGHUP to pid ${signal.pid}`);
    }
    case 'desktop': {
      if (requested === 'reload') {
        cannot('reload', 'Docker Desktop applies daemon.json only on restart', 'Use restart (it stops every container).');
      }
      const version = setup.engine?.desktopVersion;
      if (!desktopHasCli(version)) {
        cannot(
          'restart',
          `Docker Desktop ${version} has no \`docker desktop\` command (it came with 4.37)`,
          'Run again with --apply none, then restart Docker Desktop from its menu (Restart); or upgrade Docker Desktop to 4.37 or later.',
        );
      }
      return restart(['docker', 'desktop', 'restart'], 'Docker Desktop applies daemon.json only by restarting, which stops every container');
    }
    case 'orbstack':
      if (requested === 'reload') cannot('reload', 'OrbStack applies docker.json only when its Docker engine restarts', 'Use restart (it stops every container).');
      return restart(['orb', 'restart', 'docker'], 'OrbStack applies docker.json by restarting its Docker engine, which stops every container');
    case 'windows-engine':
      if (requested === 'reload') cannot('reload', 'the Windows service has no reload', 'Use restart.');
      return restart(['powershell', '-NoProfile', '-Command', 'Restart-Service docker'], 'Windows service: restart is the only way');
    default:
      return cannot('apply changes to', 'how it is run could not be detected', 'Reload the daemon yourself, or set DOCKMIRROR_SETUP to its kind.');
  }
}

/** What running a plan printed, for logs and `--json`. */
export interface ApplyOutcome {
  /** The argv run, or `kill -HUP <pid>`. */
  ran: string[];
  stdout: string;
  stderr: string;
}

/**
 * Execute a plan. Exit status only says the command ran; call confirmLive afterwards.
 * @throws ApplyError when the command fails or the signal cannot be sent.
 */
export async function runApply(
  plan: ApplyPlan,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<ApplyOutcome> {
  if (!Array.isArray(plan.command)) return sendSignal(plan.command);
  const [file, ...args] = plan.command;
  if (!file) throw new ApplyError('Empty apply command.', { hint: 'This is a bug in dockmirror; please report it.' });
  // A restart is waited for to its end: killing `docker desktop restart` or Restart-Service at --timeout leaves it
  // running, and the restore that follows would start a second restart on top of the first.
  const timeoutMs = plan.method === 'restart' ? Math.max(options.timeoutMs ?? 0, RESTART_COMMAND_MS) : (options.timeoutMs ?? 120_000);
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, {
      timeout: timeoutMs,
      env: options.env ?? process.env,
      // Ctrl-C ends the service manager call too, so the process is not held up waiting for it.
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { ran: plan.command, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stderr?: string; killed?: boolean };
    const reason = e.code === 'ENOENT' ? 'command not found' : e.killed ? `still running after ${timeoutMs / 1000} s` : `exit ${String(e.code)}`;
    const hint = applyFailureHint(plan.command, e.code, e.stderr ?? '');
    throw new ApplyError(`\`${plan.command.join(' ')}\` failed (${reason})${e.stderr ? `: ${e.stderr.trim()}` : ''}`, {
      cause: error,
      // Where the daemon's log is, the caller knows; it adds that to the hint.
      ...(hint ? { hint } : {}),
      details: { command: plan.command, stderr: e.stderr ?? '' },
    });
  }
}

/**
 * How long a restart command may run before it counts as hung: Desktop and the Windows service can take minutes
 * to stop every container and start again, and they are waited for rather than cut off at `--timeout`.
 */
export const RESTART_COMMAND_MS = 600_000;

/** What to do when an apply command failed in a way that has a known fix. */
function applyFailureHint(command: readonly string[], code: unknown, stderr: string): string | undefined {
  const [file] = command;
  // Desktop before 4.37 has no `desktop` plugin: the docker CLI says "'desktop' is not a docker command".
  if (command[1] === 'desktop' && /is not a docker command|unknown command/i.test(stderr)) {
    return 'This Docker Desktop is older than 4.37 and has no `docker desktop` command: restart Docker Desktop from its menu (Restart), or upgrade it.';
  }
  if (file === 'powershell' && /access is denied|PermissionDenied|Cannot open .* service/i.test(stderr)) {
    return 'Restarting a Windows service needs an elevated prompt: run the command again as administrator.';
  }
  if (code === 'ENOENT') return `Install ${file} or choose another apply method.`;
  return undefined;
}

async function sendSignal(command: SignalCommand, procRoot = '/proc'): Promise<ApplyOutcome> {
  // A stale pid file can name a pid reused by another program, and a pid file others can write can name any
  // process: only a pid that is still a trusted dockerd serving the endpoint is signalled.
  const refused: string[] = [];
  const fromFile = command.pidFile ? await readPidFile(command.pidFile, refused) : undefined;
  let pid: number | undefined;
  for (const candidate of new Set([fromFile, command.pid])) {
    if (candidate === undefined || pid !== undefined || !Number.isInteger(candidate) || candidate <= 0) continue;
    const why = process.platform === 'linux' ? await distrustPid(candidate, command.endpoint, procRoot) : undefined;
    if (why === undefined) pid = candidate;
    else refused.push(`pid ${candidate}: ${why}`);
  }
  if (pid === undefined) {
    throw new ApplyError(`No trusted dockerd found to reload (pid file ${command.pidFile ?? 'none'}, pid ${command.pid}): ${refused.join('; ')}.`, {
      hint: 'Is dockerd still running, as root, on this endpoint? Check its pid file, or pass --apply restart.',
      details: { pid: command.pid, pidFile: command.pidFile, refused },
    });
  }
  try {
    process.kill(pid, command.signal);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ApplyError(`Could not send ${command.signal} to dockerd (pid ${pid}): ${String(code)}.`, {
      cause: error,
      hint: code === 'EPERM' ? 'Run dockmirror as root (sudo).' : 'Is dockerd still running? Check its pid file.',
      details: { pid, pidFile: command.pidFile },
    });
  }
  return { ran: ['kill', '-HUP', String(pid)], stdout: '', stderr: '' };
}

/**
 * The pid in a dockerd pid file, or `undefined` (with the reason in `refused`) when the file cannot be
 * believed: not a regular file owned by root or the caller, or in a folder other users can write.
 */
async function readPidFile(file: string, refused: string[]): Promise<number | undefined> {
  const trusted = trustedUids();
  try {
    const info = await lstat(file);
    const folder = folderWarning(dirname(file), trusted, `the pid file ${file}`);
    if (!info.isFile()) refused.push(`${file} is not a regular file`);
    else if (process.platform !== 'win32' && !trusted.has(info.uid)) refused.push(`${file} belongs to uid ${info.uid}`);
    else if (process.platform !== 'win32' && folder) refused.push(folder);
    else {
      const text = (await readBounded(file, { maxBytes: 64, followSymlinks: false }))?.toString('utf8') ?? '';
      const pid = /^\s*(\d{1,10})\s*$/.exec(text)?.[1];
      if (pid !== undefined) return Number(pid);
      refused.push(`${file} holds no pid`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') refused.push(`${file} cannot be read (${String((error as Error).message)})`);
  }
  return undefined;
}

/**
 * dockerd before 25.0 rejects a mirror URL with a path (`https://host/prefix`); 25.0 accepts a path prefix.
 * An unparseable version (dev builds) is assumed new rather than blocking the user.
 * @throws InvalidMirrorError naming the daemon version.
 */
export function checkMirrorPathSupport(serverVersion: string, mirrorUrl: string): void {
  if (mirrorRulesFor(serverVersion) !== 'before-25') return;
  const path = dockerdMirrorPath(mirrorUrl);
  if (path === undefined) return;
  throw new InvalidMirrorError(`Docker ${serverVersion} does not accept a mirror URL with a path: ${mirrorUrl}`, {
    hint: 'Use the mirror host without a path, or upgrade Docker Engine to 25.0 or later.',
    details: { serverVersion, mirrorUrl, path },
  });
}

/**
 * The path dockerd sees in a mirror URL, or `undefined` when it sees none. Read as dockerd reads it (Go's net/url),
 * not as a browser would: "http://h//", "http://h/." and "http://h/%2e" all have a path to dockerd, though a
 * browser's parser makes the last two "/". Malformed URLs have none here: they are the mirror validator's business.
 */
export function dockerdMirrorPath(mirrorUrl: string): string | undefined {
  const parsed = goParseUrl(mirrorUrl);
  if (!parsed.ok) return undefined;
  const path = parsed.url.rawPath;
  return path === '' || path === '/' ? undefined : path;
}
