/**
 * How the daemon behind an endpoint is run (systemd, snap, Desktop, a bare dockerd...), because that decides
 * how to tell it to apply a change, where its log is, and whether a restart stops containers.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { UsageError } from '../errors.js';
import { identifyVmEngine, isWsl, socketTargetOf, type VmEngine, vmEngineFile } from './desktop.js';
import { type DockerdProcess, type DockerdScan, flagValues, scanDockerd, type UntrustedDockerd } from './dockerd-process.js';
import type { EngineInfo, EngineVersion } from './engine.js';

/** The ways a Docker daemon can be run that dockmirror knows how to apply changes to. */
export type SetupKind =
  | 'systemd' | 'rootless' | 'snap' | 'openrc' | 'sysvinit' | 'plain' | 'desktop' | 'windows-engine'
  | 'orbstack' | 'colima' | 'rancher-desktop' | 'unknown';

/** Every {@link SetupKind}, for validating `DOCKMIRROR_SETUP`. */
export const SETUP_KINDS: readonly SetupKind[] = [
  'systemd', 'rootless', 'snap', 'openrc', 'sysvinit', 'plain', 'desktop', 'windows-engine', 'orbstack', 'colima', 'rancher-desktop', 'unknown',
];

/** What {@link detectSetup} found out about the daemon. */
export interface DaemonSetup {
  /** How the daemon is run. */
  kind: SetupKind;
  /** The endpoint the setup was detected for; a SIGHUP goes only to a dockerd proven to serve it. */
  endpoint?: string;
  /** The dockerd pid, when a trusted process is visible from here (see {@link UntrustedDockerd}). */
  pid?: number;
  /** The dockerd argv, when visible. */
  cmdline?: string[];
  /** The daemon's `--config-file`, when given on its command line. */
  configFile?: string;
  /** The daemon's `--pidfile`/`-p`, or the default one for setups that use it. */
  pidFile?: string;
  /** Where to look when the daemon misbehaves, as something a human can run or open. */
  logHint: string;
  /** Whether restarting the daemon stops running containers (false only with live-restore). */
  restartStopsContainers: boolean;
  /** Whether a reload (SIGHUP, no container impact) is possible. */
  canReload: boolean;
  /** dockerd processes that claim the endpoint but were passed over (another user's, or not holding its socket). */
  untrustedDaemons?: UntrustedDockerd[];
  /** A doubt about the endpoint itself, e.g. its socket sits in a folder other users can write. */
  trustWarning?: string;
  /** The desktop or VM engine the evidence shows (Desktop, WSL2 with Desktop, Colima, OrbStack, Rancher Desktop). */
  engine?: VmEngine;
  /** The daemon.json-format file that engine reads, whatever dockmirror was pointed at. */
  engineFile?: string;
  /** Why no file here can change that engine, and what to do instead (Colima, Rancher Desktop, an unclear WSL profile). */
  engineRefusal?: UsageError;
}

/** Inputs of {@link detectSetup}; all injectable so every kind can be tested on one machine. */
export interface DetectSetupOptions {
  /** The endpoint being used (see resolveDockerHost). */
  endpoint: string;
  /** The daemon's `GET /info`, when it answered. */
  info?: EngineInfo;
  /** The daemon's `GET /version`, when it answered (Docker Desktop names its own version there). */
  version?: EngineVersion;
  /** The docker context the endpoint came from. */
  context?: string;
  /** Home folder a desktop engine's file is under; defaults to `os.homedir()`. */
  homedir?: string;
  /** Where WSL mounts Windows' C: (default `/mnt/c`). */
  wslWindowsDrive?: string;
  /** Defaults to `process.platform`. */
  platform?: NodeJS.Platform;
  /** Defaults to `process.env`; `DOCKMIRROR_SETUP=<kind>` forces the kind (a test and escape hatch). */
  env?: NodeJS.ProcessEnv;
  /** Where to scan for processes; default `/proc`. */
  procRoot?: string;
  /**
   * A scan of /proc for this very endpoint made earlier in the same call (findFileReader's proof of it): used
   * instead of scanning again. Only for `endpoint`; a scan for another endpoint says nothing about this one.
   */
  scan?: DockerdScan;
  /** The dockerd pids of this call's one listing of /proc (dockerdCandidates), when it must scan. */
  candidates?: readonly number[] | undefined;
  /** Root that absolute marker paths (`/run/systemd/system`...) are looked up under; default `/`. */
  rootDir?: string;
  /** Existence check for marker paths; default `existsSync(join(rootDir, path))`. */
  exists?: (path: string) => boolean;
}

const DEFAULT_SOCKETS = new Set(['unix:///var/run/docker.sock', 'unix:///run/docker.sock']);

/** Work out how the daemon behind `options.endpoint` is run. Never throws for an undetectable setup: `unknown`. */
export async function detectSetup(options: DetectSetupOptions): Promise<DaemonSetup> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const rootDir = options.rootDir ?? '/';
  const exists = options.exists ?? ((path: string) => existsSync(join(rootDir, path)));
  const info = options.info;
  const liveRestore = info?.LiveRestoreEnabled === true;
  const procRoot = options.procRoot ?? '/proc';
  const scan =
    platform !== 'linux' ? undefined : (options.scan ?? (await scanDockerd(options.endpoint, procRoot, undefined, options.candidates)));
  const proc = scan?.process;

  const wsl = platform === 'linux' ? await isWsl(procRoot) : false;
  const socketTarget = socketTargetOf(options.endpoint);
  const engine = identifyVmEngine({
    platform,
    endpoint: options.endpoint,
    ...(options.context ? { context: options.context } : {}),
    ...(socketTarget ? { socketTarget } : {}),
    ...(info ? { info } : {}),
    ...(options.version ? { version: options.version } : {}),
    wsl,
  });
  const forced = forcedKind(env);
  // A trusted dockerd seen in /proc serving the endpoint is this host's own, whatever its socket is called.
  const vm = forced === undefined && proc === undefined ? engine : undefined;
  const kind = forced ?? (vm ? vm.kind : decideKind({ platform, info, proc, exists, endpoint: options.endpoint }));
  const engineTarget = vm
    ? vmEngineFile(vm, { platform, env, homedir: options.homedir ?? os.homedir(), ...(options.wslWindowsDrive ? { wslWindowsDrive: options.wslWindowsDrive } : {}) })
    : undefined;
  const configFile = proc ? flagValues(proc.cmdline, '--config-file').at(-1) : undefined;
  const pidFile = proc ? (flagValues(proc.cmdline, '--pidfile', '-p').at(-1) ?? defaultPidFile(kind, env)) : undefined;
  return {
    kind,
    endpoint: options.endpoint,
    ...(proc ? { pid: proc.pid, cmdline: proc.cmdline } : {}),
    ...(configFile ? { configFile } : {}),
    ...(pidFile ? { pidFile } : {}),
    logHint: logHintFor(kind, proc, vm?.wsl ? 'win32' : platform),
    restartStopsContainers: vm !== undefined || kind === 'desktop' || kind === 'windows-engine' || !liveRestore,
    canReload: ['systemd', 'rootless', 'openrc'].includes(kind) || (['snap', 'plain', 'sysvinit'].includes(kind) && proc !== undefined),
    ...(scan && scan.untrusted.length > 0 ? { untrustedDaemons: scan.untrusted } : {}),
    ...(scan?.warning ? { trustWarning: scan.warning } : {}),
    ...(vm ? { engine: vm } : {}),
    ...(engineTarget && 'file' in engineTarget ? { engineFile: engineTarget.file } : {}),
    ...(engineTarget && 'refusal' in engineTarget ? { engineRefusal: engineTarget.refusal } : {}),
  };
}

function forcedKind(env: NodeJS.ProcessEnv): SetupKind | undefined {
  const forced = env.DOCKMIRROR_SETUP;
  if (!forced) return undefined;
  if (!(SETUP_KINDS as readonly string[]).includes(forced)) {
    throw new UsageError(`DOCKMIRROR_SETUP="${forced}" is not a known setup.`, {
      hint: `Use one of: ${SETUP_KINDS.join(', ')}; or unset it to detect the setup.`,
    });
  }
  return forced as SetupKind;
}

interface Evidence {
  platform: NodeJS.Platform;
  info: EngineInfo | undefined;
  proc: DockerdProcess | undefined;
  exists: (path: string) => boolean;
  endpoint: string;
}

/** Order matters: what the daemon says about itself beats what the local machine looks like. */
function decideKind({ platform, info, proc, exists, endpoint }: Evidence): SetupKind {
  if (info?.OperatingSystem?.includes('Docker Desktop')) return 'desktop';
  if (platform === 'win32') return 'windows-engine';
  if (platform !== 'linux') return 'unknown';
  if (info?.SecurityOptions?.some((o) => o.split(',').includes('name=rootless'))) return 'rootless';
  if (proc?.cmdline[0]?.startsWith('/snap/')) return 'snap';
  // Without the process (a socket mounted from elsewhere) only the default socket can belong to this host's init.
  const localDefault = proc !== undefined || DEFAULT_SOCKETS.has(endpoint);
  if (!localDefault) return 'unknown';
  if (exists('/run/systemd/system') && (proc?.cgroup === undefined || proc.cgroup.includes('docker.service'))) return 'systemd';
  // A hand-started dockerd on a socket of its own is not the distribution's service, whatever /etc/init.d holds.
  const servesDefault = DEFAULT_SOCKETS.has(endpoint);
  if (servesDefault && exists('/run/openrc') && exists('/etc/init.d/docker')) return 'openrc';
  if (servesDefault && exists('/etc/init.d/docker') && !exists('/run/systemd/system')) return 'sysvinit';
  return proc ? 'plain' : 'unknown';
}

function defaultPidFile(kind: SetupKind, env: NodeJS.ProcessEnv): string | undefined {
  if (kind === 'rootless') return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'docker.pid') : undefined;
  if (kind === 'snap') return '/var/snap/docker/current/run/docker.pid';
  return '/var/run/docker.pid';
}

function logHintFor(kind: SetupKind, proc: DockerdProcess | undefined, platform: NodeJS.Platform): string {
  switch (kind) {
    case 'systemd':
      return 'journalctl -u docker.service';
    case 'rootless':
      return 'journalctl --user -u docker.service';
    case 'snap':
      return 'snap logs docker (or journalctl -u snap.docker.dockerd)';
    case 'openrc':
    case 'sysvinit':
      return proc?.stderrPath ?? '/var/log/docker.log';
    case 'plain':
      return proc?.stderrPath
        ? `dockerd (pid ${proc.pid}) writes its log to ${proc.stderrPath}`
        : `dockerd (pid ${proc?.pid ?? '?'}) logs to its stderr, wherever it was started from`;
    case 'desktop':
      if (platform === 'darwin') return '~/Library/Containers/com.docker.docker/Data/log/vm/dockerd.log';
      if (platform === 'win32') return '%LOCALAPPDATA%\\Docker\\log\\vm\\dockerd.log';
      return '~/.docker/desktop/log/vm/dockerd.log';
    case 'windows-engine':
      return 'Windows Application event log, source "docker" (Get-EventLog -LogName Application -Source docker)';
    case 'orbstack':
      return 'OrbStack: orb logs docker';
    case 'colima':
      return 'inside the VM: colima ssh -- sudo journalctl -u docker';
    case 'rancher-desktop':
      return platform === 'darwin' ? '~/Library/Logs/rancher-desktop' : platform === 'win32' ? '%LOCALAPPDATA%\\rancher-desktop\\logs' : '~/.local/share/rancher-desktop/logs';
    default:
      return 'the daemon log (its location could not be determined)';
  }
}
