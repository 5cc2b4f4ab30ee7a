import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type VmEngine, vmEngineFile } from '../daemon/desktop.js';
import { flagValues } from '../daemon/dockerd-process.js';

/** The kinds of Docker setup that keep daemon.json in different places. */
export type ConfigSetup =
  | 'linux-system'
  | 'rootless'
  | 'snap'
  | 'custom'
  | 'desktop'
  | 'orbstack'
  | 'windows-engine';

/** Where daemon.json is, and how that was decided. */
export interface LocatedConfig {
  /** Absolute path of daemon.json. */
  path: string;
  /** The setup the path belongs to. */
  setup: ConfigSetup;
  /** What decided it: an explicit option, `DOCKMIRROR_CONFIG_FILE`, or detection. */
  source: 'option' | 'env' | 'detected';
  /** One human sentence saying why this file. */
  reason: string;
}

/** Inputs to {@link locateDaemonConfig}; everything is injectable so each branch can be tested anywhere. */
export interface LocateOptions {
  /** An explicit daemon.json (the `--config-file` flag). Wins over everything. */
  configFile?: string;
  /** Defaults to `process.platform`. */
  platform?: NodeJS.Platform;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to `os.homedir()`. */
  homedir?: string;
  /** Whether the process runs as root; defaults to `process.getuid?.() === 0`. */
  isRoot?: boolean;
  /** The running dockerd's command line, if known: its `--config-file` is the file in use. */
  dockerdArgs?: readonly string[];
  /** A hint from the running daemon (`docker info`): Desktop and rootless keep the file elsewhere. */
  daemonKind?: 'desktop' | 'rootless';
  /** File existence probe; defaults to `fs.existsSync`. */
  exists?: (file: string) => boolean;
  /** A desktop or VM engine recognised from evidence (see identifyVmEngine): it decides the file, or refuses. */
  vmEngine?: VmEngine;
  /** Where WSL mounts Windows' C: (default `/mnt/c`), for Docker Desktop's file seen from WSL. */
  wslWindowsDrive?: string;
  /** The file system root system files are looked up under (`/etc/docker`, `/etc/containerd`...); default `/`. */
  rootDir?: string;
  /** Where /proc is, for finding running engines; default `/proc`. */
  procRoot?: string;
}

/**
 * Finds the daemon.json in use. Precedence: an explicit `configFile`, then `DOCKMIRROR_CONFIG_FILE`, then the
 * running dockerd's `--config-file`, then a desktop or VM engine recognised from evidence (`engine`), then the
 * platform's setup (Desktop, Windows Engine, snap, rootless, system). Never touches the file itself.
 * @throws UsageError naming what to do, for an engine whose settings are no file dockmirror can edit.
 */
export function locateDaemonConfig(options: LocateOptions = {}): LocatedConfig {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const p = platform === 'win32' ? path.win32 : path.posix;
  const home = options.homedir ?? os.homedir();
  const exists = options.exists ?? existsSync;

  if (options.configFile) {
    return { path: p.resolve(options.configFile), setup: 'custom', source: 'option', reason: 'given with --config-file' };
  }
  const fromEnv = env.DOCKMIRROR_CONFIG_FILE;
  if (fromEnv) {
    return { path: p.resolve(fromEnv), setup: 'custom', source: 'env', reason: 'set by DOCKMIRROR_CONFIG_FILE' };
  }
  const detected = (file: string, setup: ConfigSetup, reason: string): LocatedConfig => ({
    path: file,
    setup,
    source: 'detected',
    reason,
  });
  // dockerd's flag parser lets the last --config-file win.
  const flagged = flagValues(options.dockerdArgs ?? [], '--config-file').at(-1);
  if (flagged) return detected(p.resolve(flagged), 'custom', 'the running dockerd was started with --config-file');

  if (options.vmEngine) {
    const chosen = vmEngineFile(options.vmEngine, { platform, env, homedir: home, ...(options.wslWindowsDrive ? { wslWindowsDrive: options.wslWindowsDrive } : {}) });
    // Colima, Rancher Desktop, an unclear WSL profile: no file here is the one the engine reads.
    if ('refusal' in chosen) throw chosen.refusal;
    return detected(chosen.file, options.vmEngine.kind === 'orbstack' ? 'orbstack' : options.vmEngine.windowsContainers ? 'windows-engine' : 'desktop', chosen.reason);
  }
  const desktop = p.join(home, '.docker', 'daemon.json');
  if (platform === 'darwin') return detected(desktop, 'desktop', 'Docker Desktop for macOS keeps it in ~/.docker');
  if (platform === 'win32') {
    const programFiles = env.ProgramFiles ?? 'C:\\Program Files';
    const hasDesktop = options.daemonKind === 'desktop' || exists(p.join(programFiles, 'Docker', 'Docker', 'Docker Desktop.exe'));
    if (hasDesktop) return detected(desktop, 'desktop', 'Docker Desktop for Windows keeps it in %USERPROFILE%\\.docker');
    const programData = env.ProgramData ?? 'C:\\ProgramData';
    return detected(
      p.join(programData, 'docker', 'config', 'daemon.json'),
      'windows-engine',
      'the Windows Engine service reads %ProgramData%\\docker\\config',
    );
  }
  if (options.daemonKind === 'desktop' || (options.daemonKind === undefined && exists(p.join(home, '.docker', 'desktop')) && !options.isRoot)) {
    return detected(desktop, 'desktop', 'Docker Desktop for Linux keeps it in ~/.docker');
  }
  // The running daemon saying it is rootless outranks a snap install found on disk.
  if (options.daemonKind !== 'rootless' && exists('/var/snap/docker/current/config')) {
    return detected('/var/snap/docker/current/config/daemon.json', 'snap', 'Docker is installed as a snap');
  }
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  if (options.daemonKind === 'rootless' || (!isRoot && options.daemonKind === undefined && env.XDG_RUNTIME_DIR && exists(p.join(env.XDG_RUNTIME_DIR, 'docker.sock')))) {
    const base = env.XDG_CONFIG_HOME || p.join(home, '.config');
    return detected(p.join(base, 'docker', 'daemon.json'), 'rootless', 'rootless Docker reads $XDG_CONFIG_HOME/docker');
  }
  return detected(path.posix.join(options.rootDir ?? '/', 'etc', 'docker', 'daemon.json'), 'linux-system', 'the system daemon reads /etc/docker');
}
