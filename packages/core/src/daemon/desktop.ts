/**
 * Engines that run dockerd inside a VM or a desktop app (Docker Desktop on every OS, WSL2 with Desktop, Colima,
 * OrbStack, Rancher Desktop), told apart from evidence rather than from the OS alone: what the daemon says about
 * itself (`GET /info`, `GET /version`), the docker context in use, the socket it listens on, and whether this is
 * WSL. Each reads its settings from a file of its own (see engines.md), or from none dockmirror can edit: then
 * the answer is a refusal that names what to do, never a file the engine does not read.
 * @module
 */
import { readdir } from 'node:fs/promises';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { readBounded } from '../support/bounded-read.js';
import { sha256Hex } from '../support/sha256.js';
import { resolveDockerHost, type ResolveDockerHostOptions } from './endpoint.js';
import type { EngineInfo, EngineVersion } from './engine.js';

/** The desktop and VM engines dockmirror recognises. */
export type VmEngineKind = 'desktop' | 'colima' | 'orbstack' | 'rancher-desktop';

/** A recognised desktop or VM engine. */
export interface VmEngine {
  kind: VmEngineKind;
  /** Docker Desktop on Windows switched to Windows containers: its dockerd.exe reads the Windows Engine's file. */
  windowsContainers?: boolean;
  /** Docker Desktop seen from inside WSL2 (its integration): the file is on the Windows side. */
  wsl?: boolean;
  /** Colima's profile (`default` unless `colima start -p <name>`). */
  profile?: string;
  /** Docker Desktop's version, from `GET /version` `Platform.Name` (`Docker Desktop 4.36.0 (175267)`). */
  desktopVersion?: string;
  /** What gave it away, for messages. */
  evidence: string;
}

/** What {@link identifyVmEngine} decides from; everything but `platform` is optional evidence. */
export interface EngineEvidence {
  platform: NodeJS.Platform;
  /** The endpoint in use. */
  endpoint?: string;
  /** The docker context name that supplied (or matches) the endpoint. */
  context?: string;
  /** Where a unix socket endpoint really is (symlinks resolved): `/var/run/docker.sock` may be Colima's. */
  socketTarget?: string;
  /** The daemon's `GET /info`. */
  info?: EngineInfo;
  /** The daemon's `GET /version`. */
  version?: EngineVersion;
  /** `/proc/version` names Microsoft: this is WSL. */
  wsl?: boolean;
}

/**
 * Which desktop or VM engine the evidence shows, or `undefined` for a plain Docker Engine. The daemon's own
 * words come first (it cannot be mistaken about itself), then the context name, then the socket's path.
 */
export function identifyVmEngine(evidence: EngineEvidence): VmEngine | undefined {
  const found = fromInfo(evidence) ?? fromContext(evidence.context) ?? fromSocket(evidence.socketTarget) ?? fromSocket(evidence.endpoint);
  if (!found) return undefined;
  if (found.kind !== 'desktop') return found;
  const desktopVersion = desktopVersionOf(evidence.version);
  const windowsContainers = evidence.info?.OSType === 'windows' || /dockerDesktopWindowsEngine/i.test(evidence.endpoint ?? '');
  return {
    ...found,
    ...(desktopVersion ? { desktopVersion } : {}),
    ...(windowsContainers ? { windowsContainers } : {}),
    ...(evidence.wsl && evidence.platform === 'linux' ? { wsl: true } : {}),
  };
}

function fromInfo({ info, version }: EngineEvidence): VmEngine | undefined {
  const os = text(info?.OperatingSystem);
  const name = text(info?.Name);
  const kernel = text(info?.KernelVersion);
  const platformName = text((version?.Platform as { Name?: unknown } | undefined)?.Name);
  if (/docker desktop/i.test(os) || /docker desktop/i.test(platformName)) return { kind: 'desktop', evidence: `the daemon says it is ${os || platformName}` };
  if (/orbstack/i.test(os) || /orbstack/i.test(kernel)) return { kind: 'orbstack', evidence: `the daemon says it runs on ${os || kernel}` };
  if (/rancher desktop/i.test(os) || name === 'lima-rancher-desktop') return { kind: 'rancher-desktop', evidence: `the daemon's host is ${name || os}` };
  const colima = /^colima(?:-(.+))?$/.exec(name);
  if (colima) return { kind: 'colima', profile: colima[1] ?? 'default', evidence: `the daemon's host is ${name}` };
  if (/linuxkit/i.test(kernel) && name === 'docker-desktop') return { kind: 'desktop', evidence: `the daemon runs Desktop's kernel ${kernel}` };
  return undefined;
}

function fromContext(context: string | undefined): VmEngine | undefined {
  if (!context) return undefined;
  const evidence = `the docker context is ${context}`;
  if (context === 'desktop-linux' || context === 'desktop-windows') return { kind: 'desktop', evidence };
  if (context === 'orbstack') return { kind: 'orbstack', evidence };
  if (context === 'rancher-desktop') return { kind: 'rancher-desktop', evidence };
  const colima = /^colima(?:-(.+))?$/.exec(context);
  if (colima) return { kind: 'colima', profile: colima[1] ?? 'default', evidence };
  return undefined;
}

function fromSocket(socket: string | undefined): VmEngine | undefined {
  if (!socket) return undefined;
  const evidence = `the socket is ${socket}`;
  const colima = /\/\.?colima\/([^/]+)\/docker\.sock$/.exec(socket);
  if (colima) return { kind: 'colima', profile: colima[1] as string, evidence };
  if (/\/\.orbstack\/run\/docker\.sock$/.test(socket)) return { kind: 'orbstack', evidence };
  if (/\/\.rd\/docker\.sock$/.test(socket)) return { kind: 'rancher-desktop', evidence };
  if (/\/\.docker\/(run|desktop)\/docker\.sock$/.test(socket) || socket.startsWith('/mnt/wsl/docker-desktop/') || /dockerDesktop(Linux|Windows)Engine/i.test(socket)) {
    return { kind: 'desktop', evidence };
  }
  return undefined;
}

/** `4.36.0` from `Docker Desktop 4.36.0 (175267)`. */
function desktopVersionOf(version: EngineVersion | undefined): string | undefined {
  const name = text((version?.Platform as { Name?: unknown } | undefined)?.Name);
  return /Docker Desktop (\d+\.\d+(?:\.\d+)?)/i.exec(name)?.[1];
}

/** Whether a Desktop version has the `docker desktop` CLI command (`docker desktop restart` came in 4.37). */
export function desktopHasCli(version: string | undefined): boolean {
  if (version === undefined) return true; // Unknown: try it, and say what to do if the command is missing.
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 4 || (major === 4 && minor >= 37);
}

/** Inputs of {@link vmEngineFile}. */
export interface VmEngineFileOptions {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  homedir: string;
  /** Where WSL mounts the Windows drive C: (default `/mnt/c`); its `Users/*` are searched for Desktop's file. */
  wslWindowsDrive?: string;
}

/** The file an engine reads, or the refusal to give instead. */
export type VmEngineFile = { file: string; reason: string } | { refusal: UsageError };

/**
 * The daemon.json-format file `engine` reads, or (for engines whose settings are not such a file) a refusal
 * saying where and how to make the change by hand.
 */
export function vmEngineFile(engine: VmEngine, options: VmEngineFileOptions): VmEngineFile {
  const p = options.platform === 'win32' ? path.win32 : path.posix;
  const home = options.homedir;
  const why = ` (${engine.evidence})`;
  switch (engine.kind) {
    case 'desktop': {
      if (engine.windowsContainers) {
        const programData = options.env.ProgramData ?? 'C:\\ProgramData';
        return { file: path.win32.join(programData, 'docker', 'config', 'daemon.json'), reason: `Docker Desktop in Windows-containers mode runs the Windows dockerd, which reads %ProgramData%\\docker\\config${why}` };
      }
      if (engine.wsl) return wslDesktopFile(engine, options);
      return { file: p.join(home, '.docker', 'daemon.json'), reason: `Docker Desktop keeps it in ~/.docker${why}` };
    }
    case 'orbstack':
      return { file: p.join(home, '.orbstack', 'config', 'docker.json'), reason: `OrbStack reads daemon.json settings from ~/.orbstack/config/docker.json${why}` };
    case 'colima': {
      const profile = engine.profile ?? 'default';
      const yaml = p.join(home, '.colima', profile, 'colima.yaml');
      const flag = profile === 'default' ? '' : ` -p ${profile}`;
      return {
        refusal: new UsageError(`Colima${why} writes dockerd's daemon.json inside its VM at every start, from the docker: section of ${yaml}; a daemon.json edited here would never be read.`, {
          hint: `Add the mirror under docker: registry-mirrors: in ${yaml} (colima start${flag} --edit), then run colima stop${flag} && colima start${flag}. Or pass --config-file to edit a file you know the engine reads.`,
          details: { engine: 'colima', profile, file: yaml },
        }),
      };
    }
    case 'rancher-desktop': {
      const override = options.platform === 'darwin'
        ? p.join(home, 'Library', 'Application Support', 'rancher-desktop', 'lima', '_config', 'override.yaml')
        : options.platform === 'win32' ? '%LOCALAPPDATA%\\rancher-desktop\\provisioning (a .start script)' : p.join(home, '.local', 'share', 'rancher-desktop', 'lima', '_config', 'override.yaml');
      return {
        refusal: new UsageError(`Rancher Desktop${why} resets /etc/docker/daemon.json inside its VM at every start; a daemon.json edited here would never be read.`, {
          hint: `Add a provisioning script that writes the mirror into /etc/docker/daemon.json in ${override}, then restart Rancher Desktop from its menu.`,
          details: { engine: 'rancher-desktop', file: override },
        }),
      };
    }
  }
}

/** Windows profiles that are never a person's. */
const NOT_PROFILES = new Set(['all users', 'default', 'default user', 'public', 'desktop.ini', 'wsiaccount', 'defaultapppool']);

function wslDesktopFile(engine: VmEngine, options: VmEngineFileOptions): VmEngineFile {
  const drive = options.wslWindowsDrive ?? '/mnt/c';
  // WSLENV=USERPROFILE/p hands the Windows profile over as a WSL path.
  const shared = options.env.USERPROFILE;
  const profiles = shared?.startsWith('/mnt/') ? [shared] : listWslProfiles(drive).map((name) => path.posix.join(drive, 'Users', name));
  const reason = `Docker Desktop on Windows serves WSL and reads %USERPROFILE%\\.docker\\daemon.json on the Windows side (${engine.evidence}); /etc/docker/daemon.json in WSL is not read`;
  if (profiles.length === 1) return { file: path.posix.join(profiles[0] as string, '.docker', 'daemon.json'), reason };
  const example = path.posix.join(drive, 'Users', '<you>', '.docker', 'daemon.json');
  return {
    refusal: new UsageError(
      `${reason}, and the Windows profile it belongs to is not clear (${profiles.length === 0 ? 'no profile under ' + path.posix.join(drive, 'Users') + ' has a .docker folder' : profiles.join(', ')}).`,
      {
        hint: `Pass --config-file ${example} (your Windows profile), or share it with WSLENV=USERPROFILE/p.`,
        details: { engine: 'desktop', wsl: true, candidates: profiles },
      },
    ),
  };
}

/**
 * The Windows profiles under `<drive>/Users` that hold a `.docker` folder; bounded to the first 64 entries, as
 * this folder is not the caller's to trust for size.
 */
export function listWslProfiles(drive = '/mnt/c'): string[] {
  const users = path.posix.join(drive, 'Users');
  let names: string[];
  try {
    names = readdirSync(users).sort();
  } catch {
    return [];
  }
  return names
    .slice(0, 64)
    .filter((name) => !NOT_PROFILES.has(name.toLowerCase()) && statSync(path.posix.join(users, name, '.docker'), { throwIfNoEntry: false })?.isDirectory() === true);
}

/** Inputs of {@link gatherLocalEvidence}. */
export interface LocalEvidenceOptions extends ResolveDockerHostOptions {
  /** Where `/proc/version` is read for WSL; default `/proc`. */
  procRoot?: string;
}

/** Contexts looked at when matching an endpoint to a context name: a bound, as the folder is the user's. */
const MAX_CONTEXTS = 32;
const MAX_META_BYTES = 64 * 1024;

/**
 * What can be known about the engine without talking to it: the endpoint and the context it came from (or the
 * context whose endpoint it is), where a unix socket really is, and whether this is WSL. Never throws.
 */
export async function gatherLocalEvidence(options: LocalEvidenceOptions): Promise<EngineEvidence> {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const resolved = await resolveDockerHost(options).catch(() => undefined);
  const endpoint = resolved?.endpoint;
  const configDir = env.DOCKER_CONFIG || path.join(options.homedir ?? os.homedir(), '.docker');
  const context = resolved?.context ?? (endpoint ? await contextServing(configDir, endpoint) : undefined);
  const socketTarget = endpoint ? socketTargetOf(endpoint) : undefined;
  const wsl = platform === 'linux' ? await isWsl(options.procRoot ?? '/proc') : false;
  return { platform, ...(endpoint ? { endpoint } : {}), ...(context ? { context } : {}), ...(socketTarget ? { socketTarget } : {}), ...(wsl ? { wsl } : {}) };
}

/** The name of a docker context whose docker endpoint is `endpoint` (the CLI keeps one meta.json per context). */
async function contextServing(configDir: string, endpoint: string): Promise<string | undefined> {
  const metaDir = path.join(configDir, 'contexts', 'meta');
  const digests = await readdir(metaDir).catch(() => [] as string[]);
  for (const digest of digests.filter((d) => /^[0-9a-f]{64}$/.test(d)).slice(0, MAX_CONTEXTS)) {
    const meta = await readBounded(path.join(metaDir, digest, 'meta.json'), { maxBytes: MAX_META_BYTES }).then(
      (bytes) => parse(bytes?.toString('utf8')),
      () => undefined,
    );
    const name = (meta as { Name?: unknown } | undefined)?.Name;
    const host = ((meta as { Endpoints?: { docker?: { Host?: unknown } } } | undefined)?.Endpoints?.docker?.Host);
    // The folder is named for the sha256 of the context's name: a meta.json moved under another name is not believed.
    if (typeof name === 'string' && host === endpoint && sha256Hex(Buffer.from(name)) === digest) return name;
  }
  return undefined;
}

/** Whether `<procRoot>/version` names Microsoft's kernel: this is WSL. */
export async function isWsl(procRoot: string): Promise<boolean> {
  const version = await readBounded(path.join(procRoot, 'version'), { maxBytes: 4096 }).catch(() => undefined);
  return /microsoft/i.test(version?.toString('utf8') ?? '');
}

/** Where a unix socket endpoint really is, symlinks resolved; `undefined` for other endpoints or a missing socket. */
export function socketTargetOf(endpoint: string): string | undefined {
  if (!endpoint.startsWith('unix://')) return undefined;
  try {
    return realpathSync(endpoint.slice('unix://'.length) || '/var/run/docker.sock');
  } catch {
    return undefined;
  }
}

function parse(text: string | undefined): unknown {
  try {
    return text ? (JSON.parse(text.replace(/^\uFEFF/, '')) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
