/**
 * podman's own view of its registries (`podman info --format json`, drop-ins merged, as status and
 * `mirror list` show it beside the files'), and podman machine: on macOS and Windows podman pulls inside a VM,
 * so the registries.conf that counts is the VM's, not the host's.
 */
import { runCommand as defaultRun, type RunCommand } from '../../presets/run-command.js';
import type { RegistryMirrorSettings, RegistryTableSettings } from './settings.js';

/** What podman says about its registries. */
export type PodmanRegistriesView =
  | { state: 'ok'; registries: RegistryTableSettings[]; search: string[] }
  | { state: 'not-installed' }
  | { state: 'failed'; message: string };

/** Options of {@link podmanRegistries}. */
export interface PodmanInfoOptions {
  /** The environment podman runs with (PATH, HOME, CONTAINERS_REGISTRIES_CONF…). */
  env: NodeJS.ProcessEnv;
  /** Global podman flags before `info` (e.g. `--root`, `--runroot` for a test's own storage). */
  globalArgs?: readonly string[];
  /** How programs are run (default: the trusted-PATH runner, output bounded). */
  run?: RunCommand;
  /** Give up after this long (default 15 s: podman info may first set up its storage). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** Runs `podman info --format json` and reads its `registries`; never throws (status must go on without it). */
export async function podmanRegistries(options: PodmanInfoOptions): Promise<PodmanRegistriesView> {
  const run = options.run ?? defaultRun;
  let out;
  try {
    out = await run('podman', [...(options.globalArgs ?? []), 'info', '--format', 'json'], { env: options.env, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'not-installed' };
    return { state: 'failed', message: code === 'EUNTRUSTED' ? (error as Error).message : `podman info did not finish (${code ?? (error as Error).message})` };
  }
  if (out.exitCode !== 0) return { state: 'failed', message: `podman info failed: ${firstLine(out.stderr) || `exit ${String(out.exitCode)}`}` };
  return registriesFromInfo(out.stdout);
}

/**
 * The registries of `podman info --format json` output: `.registries` maps each prefix to its table (the
 * `search` key lists the unqualified-search registries). Anything of another shape is a failure, not a guess.
 */
export function registriesFromInfo(json: string): PodmanRegistriesView {
  let info: unknown;
  try {
    info = JSON.parse(json);
  } catch {
    return { state: 'failed', message: 'podman info printed no JSON' };
  }
  const registries = (info as { registries?: unknown } | null)?.registries;
  if (!isObject(registries)) return { state: 'failed', message: 'podman info printed no registries object' };
  const tables: RegistryTableSettings[] = [];
  let search: string[] = [];
  for (const [key, value] of Object.entries(registries)) {
    if (key === 'search') {
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) search = value as string[];
      continue;
    }
    const table = tableOf(value);
    if (!table) return { state: 'failed', message: `podman info printed an unexpected entry for ${JSON.stringify(key.slice(0, 100))}` };
    tables.push(table);
  }
  return { state: 'ok', registries: tables, search };
}

function tableOf(value: unknown): RegistryTableSettings | undefined {
  if (!isObject(value) || typeof value.Prefix !== 'string' || typeof value.Location !== 'string') return undefined;
  const mirrors: RegistryMirrorSettings[] = [];
  for (const m of Array.isArray(value.Mirrors) ? value.Mirrors : []) {
    if (!isObject(m) || typeof m.Location !== 'string') return undefined;
    const pull = typeof m.PullFromMirror === 'string' && m.PullFromMirror !== '' ? { pullFromMirror: m.PullFromMirror } : {};
    mirrors.push({ location: m.Location, insecure: m.Insecure === true, ...pull });
  }
  return { prefix: value.Prefix, location: value.Location, insecure: value.Insecure === true, blocked: value.Blocked === true, mirrorByDigestOnly: value.MirrorByDigestOnly === true, mirrors };
}

/** Where podman pulls, and what to tell the user when it is not this machine. */
export interface PodmanMachineVerdict {
  /** podman pulls inside a VM: the host's registries.conf does not count. */
  inVm: boolean;
  /** The machine that counts (the default one, else the first). */
  machine?: string;
  /** Whether it runs. */
  running?: boolean;
  /** What to do, when `inVm`. */
  message?: string;
  /** The command that opens a shell in it, when there is one. */
  ssh?: string[];
}

/**
 * Decides from the platform and `podman machine list --format json` (undefined when it could not run) whether
 * the registries.conf that counts is inside a podman machine: on macOS and Windows podman is a client of the
 * VM's podman, so it is. On Linux podman runs here, whatever machines exist.
 */
export function podmanMachineVerdict(platform: NodeJS.Platform, machineList: string | undefined): PodmanMachineVerdict {
  if (platform !== 'darwin' && platform !== 'win32') return { inVm: false };
  const os = platform === 'darwin' ? 'macOS' : 'Windows';
  let machines: { Name?: unknown; Default?: unknown; Running?: unknown }[] = [];
  try {
    const parsed: unknown = machineList === undefined ? [] : JSON.parse(machineList);
    if (Array.isArray(parsed)) machines = parsed.filter(isObject);
  } catch {
    machines = [];
  }
  const named = machines.filter((m) => typeof m.Name === 'string');
  const chosen = named.find((m) => m.Default === true) ?? named[0];
  if (!chosen) {
    return {
      inVm: true,
      message: `On ${os}, podman pulls inside a podman machine, and none was found: run "podman machine init" and "podman machine start", then change the registries.conf inside it (run dockmirror there through "podman machine ssh").`,
    };
  }
  const name = String(chosen.Name).replace(/\*$/, '');
  const running = chosen.Running === true;
  return {
    inVm: true,
    machine: name,
    running,
    ssh: ['podman', 'machine', 'ssh', name],
    message:
      `On ${os}, podman pulls inside the podman machine "${name}", so the registries.conf that counts is the one in that VM, not on this computer.` +
      `${running ? '' : ` Start it first: podman machine start ${name}.`} Then run the same dockmirror command inside it (podman machine ssh ${name}), or edit /etc/containers/registries.conf there; podman reads it on the next pull.`,
  };
}

/** Runs `podman machine list --format json`; undefined when it cannot (not installed, refused as root, timeout). */
export async function listPodmanMachines(options: Pick<PodmanInfoOptions, 'env' | 'run' | 'timeoutMs'>): Promise<string | undefined> {
  try {
    const out = await (options.run ?? defaultRun)('podman', ['machine', 'list', '--format', 'json'], { env: options.env, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    return out.exitCode === 0 ? out.stdout : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').trim().slice(0, 300);
}
