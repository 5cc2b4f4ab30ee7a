import { existsSync } from 'node:fs';
import type { Position } from '../config/edit.js';
import { readConfigFile, readDaemonConfig } from '../config/io.js';
import { UsageError } from '../errors.js';
import { normalizeMirror, validateMirror } from '../mirror/url.js';
import { ownedInsecureNow } from '../mirror/ownership.js';
import { runChange, type ChangeRequest, type ChangeResult, type PlannedChange } from '../change/pipeline.js';
import { DEFAULT_REGISTRY, type EngineId, type EnginePlan, type EngineTarget, type ReadFile, type RegistrySettings } from '../engines/engine.js';
import { engineTargets, type EngineOptions } from '../engines/registry.js';
import { registryName } from '../mirror/registry-name.js';
import { resolveMirrorTarget, type MirrorTarget } from '../presets/index.js';
import { Journal } from '../state/journal.js';
import type { LiveRegistry } from '../daemon/registry-config.js';
import type { EffectiveMirrors } from '../engines/docker/effective-mirrors.js';
import { readableState } from '../state/read-only.js';
import type { CommonOptions, MutationOptions } from './options.js';
import { liveRegistryIfAny } from './status.js';

/** How a preset is pinned to an address (`--host`, `--port`), for the `pyrsia` and `local` presets. */
export interface PresetAddressOptions {
  /** The preset's host (`--host`). */
  host?: string;
  /** The preset's port (`--port`). */
  port?: number;
  /** The user presets file; default `~/.config/dockmirror/presets.json` or the platform's equivalent. */
  presetsFile?: string;
}

/** Options of {@link addMirror}. */
export interface AddMirrorOptions extends MutationOptions, PresetAddressOptions, EngineSelection {
  /** The mirror: a URL, or a preset name such as `pyrsia`, `local` or `gcr`. */
  mirror: string;
  /** Where the mirror goes in `registry-mirrors`: `first` (default) or `last`. */
  position?: Position;
  /** Add an `insecure-registries` entry for an http:// mirror (default true; `--no-insecure` sets false). */
  insecure?: boolean;
}

/** Options of {@link removeMirror}. */
export interface RemoveMirrorOptions extends MutationOptions, PresetAddressOptions, EngineSelection {
  /** The mirror URL (or preset name) to remove, compared in normalised form. */
  mirror: string;
}

/**
 * Adds a registry mirror (to daemon.json by default; `engine` and `registry` choose others), plus whatever the
 * engine needs for a plain-HTTP mirror (Docker: an `insecure-registries` entry), touching no other byte. A
 * mirror already present (in normalised form) changes nothing.
 */
export async function addMirror(options: AddMirrorOptions): Promise<ChangeResult & { target: MirrorTarget }> {
  const change = await changeFor(options);
  const target = await resolveMirror(options, { remember: false }, change.targets[0] as EngineTarget);
  const mirror = validateMirror(target.url);
  const position = options.position ?? 'first';
  const request = { registry: change.registry, mirror, position, insecure: options.insecure ?? true };
  const args = { mirror: mirror.url, position, insecure: request.insecure, ...(target.preset ? { preset: target.preset } : {}), ...change.args };
  const result = await runChange({ ...change, op: 'mirror add', args }, async ({ files, owned }) =>
    merged(change.targets.map((t, i) => t.planAdd(files, request, i === 0 ? owned : []))),
  );
  return { ...result, target };
}

/**
 * Removes a registry mirror. For Docker its `insecure-registries` entry goes too, but only when dockmirror
 * added it, the file still holds it as dockmirror wrote it, and no remaining mirror uses that host; an entry
 * the user had before, or rewrote by hand, stays (see mirror/ownership.ts). A preset named without
 * --host/--port means the address it was last added with.
 */
export async function removeMirror(options: RemoveMirrorOptions): Promise<ChangeResult & { target: MirrorTarget }> {
  const change = await changeFor(options);
  // A URL is removed as written (even one dockerd would refuse, so a broken entry can be taken out).
  const target = options.mirror.includes('://')
    ? { url: options.mirror, reasons: ['given as a URL'] }
    : await resolveMirror(options, { remember: true }, change.targets[0] as EngineTarget);
  const wanted = normalizeMirror(target.url);
  const args = { mirror: wanted, ...(target.preset ? { preset: target.preset } : {}), ...change.args };
  const request = { registry: change.registry, url: wanted };
  const result = await runChange({ ...change, op: 'mirror remove', args }, async ({ files, owned }) =>
    merged(change.targets.map((t, i) => t.planRemove(files, request, i === 0 ? owned : []))),
  );
  return { ...result, target };
}

/** Options that say which engines and which upstream registry a call is about. */
export interface EngineSelection extends EngineOptions {
  /** The upstream registry whose mirrors change (`--registry`); default docker.io. */
  registry?: string;
}

/** The engines, registry and state folder of one change, each decided once. */
async function changeFor(options: MutationOptions & EngineSelection): Promise<Omit<ChangeRequest, 'op' | 'args'> & { args: Record<string, unknown> }> {
  const registry = registryName(options.registry);
  const targets = await engineTargets(options);
  if (targets.length === 0) {
    throw new UsageError('No container engine was found on this machine.', { hint: 'Name one with --engine docker|containerd|podman.' });
  }
  const first = targets[0] as EngineTarget;
  const args = {
    ...(registry === DEFAULT_REGISTRY ? {} : { registry }),
    ...(targets.length === 1 && first.engine === 'docker' ? {} : { engines: targets.map((t) => t.engine) }),
  };
  return { options, targets, registry, stateDir: first.stateDir, args };
}

/** One plan from each engine's: their writes in order, the first engine's ownership, every warning. */
function merged(plans: (EnginePlan | undefined)[]): PlannedChange | undefined {
  const some = plans.filter((p): p is EnginePlan => p !== undefined);
  if (some.length === 0) return undefined;
  return {
    writes: some.flatMap((p) => p.writes),
    owned: plans[0]?.owned ?? [],
    newMirrors: [...new Set(some.flatMap((p) => p.newMirrors))],
    warnings: some.flatMap((p) => p.warnings),
    edit: true,
  };
}

/** How {@link resolveMirror} treats a preset named without --host or --port. */
export interface ResolveMirrorSettings {
  /**
   * Mean the address the preset was last added with to this daemon.json (from the journal), when that mirror
   * is still in the file: `verify local` and `remove local` after `add local --port 5001` mean port 5001.
   * `add` passes false: a preset added without flags means its default.
   */
  remember: boolean;
}

/**
 * Turns a preset name or URL into the mirror URL. Something that looks like an address without a scheme
 * (`127.0.0.1:5000`) gets dockerd's "no scheme" refusal rather than "unknown preset".
 */
export async function resolveMirror(
  options: AddMirrorOptions | RemoveMirrorOptions,
  settings: ResolveMirrorSettings,
  engine?: EngineTarget,
): Promise<MirrorTarget> {
  const input = options.mirror.includes('://') ? options.mirror : options.mirror.trim();
  const target: EngineTarget = engine ?? (await import('../engines/docker/adapter.js').then((m) => m.dockerTarget(options)));
  const resolved = await resolveMirrorTarget(input, resolveOptions(options, target.setup)).catch((error: unknown) => {
    // Something that looks like an address without a scheme (`127.0.0.1:5000`) and is no preset gets dockerd's
    // "no scheme" refusal rather than "unknown preset".
    if (error instanceof UsageError && !input.includes('://') && /[.:/]/.test(input)) validateMirror(input);
    throw error;
  });
  if (!settings.remember || !resolved.preset || options.host !== undefined || options.port !== undefined) return resolved;
  const remembered = await rememberedAddress(resolved.preset, target);
  if (!remembered || normalizeMirror(remembered.url) === normalizeMirror(resolved.url)) return resolved;
  return { url: remembered.url, preset: resolved.preset, ...(resolved.warnings ? { warnings: resolved.warnings } : {}),
    reasons: [`${resolved.preset}: ${remembered.url}, the address it was added with (dockmirror add, ${remembered.time}; backup ${remembered.id}); --host/--port choose another`] };
}

/**
 * The newest `mirror add` of this preset for the engine's file whose mirror the file still lists. The journal
 * records the preset (`args.preset`) and the URL written (`args.mirror`).
 */
async function rememberedAddress(preset: string, target: EngineTarget): Promise<{ url: string; time: string; id: string } | undefined> {
  // Memory is a convenience: a journal or file that cannot be read leaves the preset at its default, and the
  // command that writes (remove) meets the same problem again in its own checks.
  const file = target.configFile;
  const read = await Promise.all([new Journal(target.stateDir).committed(file), readConfigFile(file)]).catch(() => undefined);
  if (!read) return undefined;
  const [entries, raw] = read;
  let doc: unknown;
  try {
    doc = target.parse(raw, { lenient: false });
  } catch {
    return undefined;
  }
  const files = new Map([[file, { raw, doc }]]);
  const listed = new Set(target.settings(files).flatMap((s) => s.mirrors.map((m) => normalizeMirror(m.url))));
  for (const entry of [...entries].reverse()) {
    const { preset: p, mirror } = entry.args;
    if (entry.op !== 'mirror add' || typeof p !== 'string' || typeof mirror !== 'string') continue;
    if (p.toLowerCase() === preset.toLowerCase() && listed.has(normalizeMirror(mirror))) return { url: mirror, time: entry.time, id: entry.id };
  }
  return undefined;
}

function resolveOptions(options: AddMirrorOptions | RemoveMirrorOptions, setup: string): Parameters<typeof resolveMirrorTarget>[1] {
  return {
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.presetsFile === undefined ? {} : { presetsFile: options.presetsFile }),
    engineKind: setup === 'desktop' ? 'desktop' : 'native',
    ...(options.env ? { env: options.env } : {}),
    ...(options.platform ? { platform: options.platform } : {}),
    ...(options.homedir ? { homedir: options.homedir } : {}),
  };
}

/** One engine's mirror settings as its files say them. */
export interface EngineMirrors {
  /** The engine. */
  engine: EngineId;
  /** Its main config file. */
  configFile: string;
  /** The kind of setup that file belongs to. */
  configSetup: string;
  /** The files read (for containerd, one hosts.toml per registry). */
  files: string[];
  /** Each registry with mirrors, and its mirrors in order (only `registry` with that option). */
  registries: RegistrySettings[];
  /** The same, as the engine itself reports it (podman: `podman info`), or why it could not be asked. */
  engineView?: { registries: RegistrySettings[] } | { error: string };
}

/** The mirrors the engines' files hold; for Docker also its insecure registries and what the daemon uses. */
export interface MirrorList {
  /** The first engine's main config file (daemon.json for Docker). */
  configFile: string;
  /** The kind of setup the file's location belongs to. */
  configSetup: string;
  /** Whether the file exists. */
  exists: boolean;
  /** Docker's `registry-mirrors` ([] when absent); for another engine, its docker.io (or `registry`) mirrors. */
  mirrors: string[];
  /** Docker's `insecure-registries` ([] when absent, and for other engines). */
  insecureRegistries: string[];
  /** The insecure entries dockmirror added and the file still holds as written (it would remove them with their mirror). */
  ownedInsecureRegistries: string[];
  /**
   * What the running Docker daemon uses (with `live`), or why it could not be asked. On the containerd image
   * store with a docker.io hosts.toml that names hosts, `GET /info` shows only daemon.json's view, which pulls
   * ignore: then this says so as an error, and `effective` is the truth.
   */
  live?: LiveRegistry | { error: string };
  /** On Docker's containerd image store: the docker.io mirrors pulls really use (moby's merge of both files). */
  effective?: EffectiveMirrors;
  /** Every engine listed, per registry. */
  engines: EngineMirrors[];
  /** What could not be read (the state folder, for a user who is not root) and what that leaves out. */
  warnings: string[];
}

/** Options of {@link listMirrors}. */
export interface ListMirrorsOptions extends CommonOptions, EngineSelection {
  /** Also ask the running daemon what it uses (default true; `--no-live` sets false). */
  live?: boolean;
  /** Docker Engine endpoint (`--docker-host`). */
  dockerHost?: string;
}

/** Lists the mirrors in the engines' files, beside the live Docker daemon's. Reads only; no lock. */
export async function listMirrors(options: ListMirrorsOptions = {}): Promise<MirrorList> {
  const registry = options.registry === undefined ? undefined : registryName(options.registry);
  const targets = await engineTargets(options);
  const docker = targets.find((t) => t.engine === 'docker');
  const [engines, asked] = await Promise.all([
    Promise.all(targets.map((t) => engineMirrors(t, registry, { askEngine: options.live !== false }))),
    docker && options.live !== false ? liveRegistryIfAny(options) : undefined,
  ]);
  const effective = asked?.effective;
  const live = effective && !effective.infoIsLive
    ? { error: `GET /info shows only daemon.json's view, which docker.io pulls do not use: ${effective.ignored[0]?.reason ?? "certs.d's docker.io hosts.toml names hosts, so it decides"} (see effective)` }
    : asked?.live;
  const first = targets[0] as EngineTarget;
  const warnings: string[] = [];
  if (!docker || first !== docker) {
    const mirrors = engines[0]?.registries.find((r) => r.registry === (registry ?? DEFAULT_REGISTRY))?.mirrors.map((m) => m.url) ?? [];
    return { configFile: first.configFile, configSetup: first.setup, exists: existsSync(first.configFile), mirrors, insecureRegistries: [], ownedInsecureRegistries: [], engines, warnings };
  }
  const doc = await readDaemonConfig(docker.configFile);
  const owned = await readableState(() => ownedInsecureNow(new Journal(docker.stateDir), doc), [], docker.stateDir, 'which insecure-registries entries dockmirror added is not shown', warnings);
  return {
    ...(live ? { live } : {}),
    ...(effective ? { effective } : {}),
    configFile: doc.file,
    configSetup: docker.setup,
    exists: doc.exists,
    mirrors: doc.mirrors ?? [],
    insecureRegistries: doc.insecureRegistries ?? [],
    ownedInsecureRegistries: owned,
    engines,
    warnings,
  };
}

/** One engine's files read strictly, and the registries they configure (only `registry`'s, when given). */
export async function engineMirrors(target: EngineTarget, registry: string | undefined, settings: { askEngine?: boolean } = {}): Promise<EngineMirrors> {
  const names = await target.listedFiles();
  const files = new Map<string, ReadFile>();
  for (const file of names) {
    const raw = await readConfigFile(file);
    files.set(file, { raw, doc: target.parse(raw, { lenient: false }) });
  }
  const wanted = (s: RegistrySettings) => (registry === undefined ? s.mirrors.length > 0 : s.registry === registry);
  const registries = target.settings(files).filter(wanted);
  const view = settings.askEngine && target.engineView ? await target.engineView() : undefined;
  const engineView = view && 'registries' in view ? { registries: view.registries.filter(wanted) } : view;
  return { engine: target.engine, configFile: target.configFile, configSetup: target.setup, files: names, registries, ...(engineView ? { engineView } : {}) };
}
