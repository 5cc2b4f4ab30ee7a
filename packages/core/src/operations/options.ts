import path from 'node:path';
import { locateDaemonConfig, type LocatedConfig, type LocateOptions } from '../config/locate.js';
import { gatherLocalEvidence, identifyVmEngine } from '../daemon/desktop.js';
import { callCandidates, scanDockerd } from '../daemon/dockerd-process.js';
import { resolveDockerHost } from '../daemon/endpoint.js';

/** How a change reaches the running daemon. `auto` reloads where it can and restarts only where it must. */
export type ApplyMode = 'auto' | 'reload' | 'restart' | 'none';

/** Options every command that touches daemon.json shares; names match the CLI flags. */
export interface CommonOptions extends Omit<LocateOptions, 'configFile'> {
  /** daemon.json to use instead of the detected one (`--config-file`). */
  configFile?: string;
  /** Where backups, the journal and the lock live (`--state-dir`); default `.dockmirror/` beside daemon.json. */
  stateDir?: string;
}

/** Options of the commands that change daemon.json. */
export interface MutationOptions extends CommonOptions {
  /** Show the change as a unified diff and write nothing (`--dry-run`). */
  dryRun?: boolean;
  /** How to make the daemon use the change (`--apply`); default `auto`. */
  apply?: ApplyMode;
  /** Docker Engine endpoint (`--docker-host`); default DOCKER_HOST, the docker context, then the platform's. */
  dockerHost?: string;
  /** How long to wait for the daemon to come back and show the change, in ms (`--timeout`); default 60 s. */
  timeoutMs?: number;
  /** Agree to a restart that stops running containers (`--yes`). */
  yes?: boolean;
  /** Asks the user to agree to a restart; without it (and without `yes`) such a restart is refused. */
  confirm?: (question: string) => Promise<boolean>;
  /** Called while waiting on the daemon, for spinners. */
  onProgress?: (message: string) => void;
  /** Ends every wait on the daemon or the lock at once (the CLI's Ctrl-C); the change then reports what it left. */
  signal?: AbortSignal;
  /** How many backups to keep (default 20, or `DOCKMIRROR_KEEP_BACKUPS`). */
  keepBackups?: number;
  /** How long to wait for another dockmirror process, in ms (default 120 s, or `DOCKMIRROR_LOCK_TIMEOUT` seconds; longer than one apply may take). */
  lockTimeoutMs?: number;
}

/** The resolved file and state folder of a call. */
export interface Target {
  located: LocatedConfig;
  stateDir: string;
}

/**
 * Resolves which daemon.json and which state folder a call works on. Unless the file was named, the running
 * dockerd behind the Docker endpoint is looked up in /proc (cheap, no client loaded): a daemon started with
 * `--config-file` (dind, CI runners) reads that file, not the platform default.
 */
export function locateTarget(options: CommonOptions & { dockerHost?: string }): Promise<Target> {
  // One call (add, remove) asks twice, for the preset's engine kind and for the change: scan /proc once.
  let found = targets.get(options);
  if (!found) targets.set(options, (found = findTarget(options)));
  return found;
}

const targets = new WeakMap<object, Promise<Target>>();

async function findTarget(options: CommonOptions & { dockerHost?: string }): Promise<Target> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  if (options.configFile || env.DOCKMIRROR_CONFIG_FILE || options.dockerdArgs) return resolveTarget(options);
  // Desktop, WSL2 with Desktop, Colima, OrbStack, Rancher Desktop: the context, the socket and WSL tell them apart.
  const vmEngine = options.vmEngine ?? identifyVmEngine(await gatherLocalEvidence(options));
  if (vmEngine || platform !== 'linux') return resolveTarget({ ...options, ...(vmEngine ? { vmEngine } : {}) });
  const { endpoint } = await resolveDockerHost(options).catch(() => ({ endpoint: '' }));
  // This call's one listing of /proc: finding the daemon that reads the file uses it again (callCandidates).
  const procRoot = options.procRoot ?? '/proc';
  const daemon = endpoint ? (await scanDockerd(endpoint, procRoot, undefined, callCandidates(options, procRoot))).process : undefined;
  return resolveTarget({ ...options, ...(daemon ? { dockerdArgs: daemon.cmdline } : {}) });
}

/** Resolves which daemon.json and which state folder a call works on, from the options alone. */
export function resolveTarget(options: CommonOptions): Target {
  const located = locateDaemonConfig(options);
  const env = options.env ?? process.env;
  const stateDir = options.stateDir ?? env.DOCKMIRROR_STATE_DIR ?? path.join(path.dirname(located.path), '.dockmirror');
  return { located, stateDir: path.resolve(stateDir) };
}

/** How many backups to keep: the option, then `DOCKMIRROR_KEEP_BACKUPS`, then 20. */
export function keepBackups(options: MutationOptions): number {
  const fromEnv = Number((options.env ?? process.env).DOCKMIRROR_KEEP_BACKUPS);
  return options.keepBackups ?? (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 20);
}

/** How long to wait for the lock, in ms: the option, then `DOCKMIRROR_LOCK_TIMEOUT` (seconds, may be fractional), then 120 s. */
export function lockTimeoutMs(options: MutationOptions): number {
  const raw = (options.env ?? process.env).DOCKMIRROR_LOCK_TIMEOUT?.trim();
  const fromEnv = raw ? Number(raw) : Number.NaN;
  return options.lockTimeoutMs ?? (Number.isFinite(fromEnv) && fromEnv >= 0 ? Math.round(fromEnv * 1000) : 120_000);
}

/** The longest wait on the daemon dockmirror accepts, in ms: past setTimeout's range a timer would fire at once. */
export const MAX_DAEMON_TIMEOUT_MS = 3_600_000;

/** How long to wait on the daemon, in ms: the option (at least 1 ms, at most an hour), else 60 s. */
export function daemonTimeoutMs(options: { timeoutMs?: number }): number {
  const ms = options.timeoutMs;
  if (ms === undefined || Number.isNaN(ms)) return 60_000;
  return Math.min(MAX_DAEMON_TIMEOUT_MS, Math.max(1, Math.round(ms)));
}
