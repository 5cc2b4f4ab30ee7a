import { readDaemonConfig } from '../config/io.js';
import { DockmirrorError, UsageError, VerificationError } from '../errors.js';
import { resolveDockerHost } from '../daemon/endpoint.js';
import { createEngine } from '../daemon/engine.js';
import type { ConnectOptions } from '../engines/docker/discovery.js';
import { checkMirror, DEFAULT_PROBE_TIMEOUT_MS } from '../verify/verify.js';
import type { MirrorLists, VerifyResult } from '../verify/types.js';
import { engineMirrors, resolveMirror, type EngineSelection, type PresetAddressOptions } from './mirrors.js';
import { locateTarget, type MutationOptions } from './options.js';
import { DEFAULT_REGISTRY, type EngineId, type EngineTarget, type RegistryMirror } from '../engines/engine.js';
import { engineTargets } from '../engines/registry.js';
import { registryName } from '../mirror/registry-name.js';
import { checkEngineMirror, mirrorUrlOf } from '../verify/engine-check.js';
import { parseRegistryImage } from '../verify/image-ref.js';

/** Options of {@link verifyMirror}; names match the flags of `dockmirror mirror verify`. */
export interface VerifyMirrorOptions extends ConnectOptions, PresetAddressOptions, EngineSelection {
  /** A mirror URL or preset name; omitted = every mirror in daemon.json (with `engine`: in each engine's files). */
  mirror?: string;
  /** Image whose manifest the mirror must serve (`--image`), e.g. `alpine:3.16.2`. */
  image?: string;
  /** Also pull the image through the daemon and compare digests (`--pull`; needs `image`). */
  pull?: boolean;
  /** Remove a local copy first so the pull really goes to the network (`--fresh`). */
  fresh?: boolean;
  /** Timeout of each network probe, and of asking the daemon, in ms (`--timeout`); default 5000. */
  timeoutMs?: number;
  /**
   * The named mirror's Prometheus endpoint (`--metrics-url`): distribution's `http.debug.addr` with
   * `prometheus.enabled`, e.g. `http://127.0.0.1:5001/metrics`. Its request counters, read around the plain-name
   * pull, are the mirror's own word on whether the pull came through it. Needs `mirror`.
   */
  metricsUrl?: string;
  /**
   * The named mirror's access log (`--access-log`), where this machine can read it (a distribution registry's or
   * a Pyrsia node's log file): its lines for the image, counted around the plain-name pull, say whether the pull
   * came through it. Needs `mirror`; preferred over `metricsUrl`.
   */
  accessLog?: string;
}

/** The outcome of {@link verifyMirror}: one result per mirror. */
export interface VerifyReport {
  /** True when every check of every mirror passed. */
  ok: boolean;
  /** The daemon.json the config check read (with `engine`: the first engine's config file). */
  configFile: string;
  /** The Docker endpoint asked for the live settings (with `engine`: the first engine's; see {@link EngineVerifyReport}). */
  endpoint: string;
  /** One result per mirror, in daemon.json order (or the one mirror asked for); with `engine`, every engine's in turn. */
  results: VerifyResult[];
  /** Per engine, when verify was asked about engines (`--engine`, `--registry`); absent otherwise. */
  engines?: EngineVerifyReport[];
}

/** One engine's part of a {@link VerifyReport}. */
export interface EngineVerifyReport {
  /** The engine. */
  engine: EngineId;
  /** The upstream registry whose mirrors were verified. */
  registry: string;
  /** The engine's config file (daemon.json, containerd's config.toml, registries.conf). */
  configFile: string;
  /** The file the registry's mirrors were read from (Docker: daemon.json; containerd: its hosts.toml). */
  files: string[];
  /** Where the engine was asked: Docker's endpoint, containerd's socket, `podman`. */
  endpoint?: string;
  /** True when every check of every mirror of this engine passed. */
  ok: boolean;
  /** One result per mirror, in the engine's order. */
  results: VerifyResult[];
  /** Set when the engine has no mirror for the registry (so `results` is empty), saying so. */
  note?: string;
}

/** The image an engine verify pulls on docker.io when `--image` is not given; other registries have none. */
export const DEFAULT_TEST_IMAGE = 'docker.io/library/alpine:latest';

/** How long an engine's verify pull may take. */
const ENGINE_PULL_TIMEOUT_MS = 120_000;

/**
 * Proves mirrors work (`dockmirror mirror verify`): reads daemon.json, asks the daemon once for its live
 * settings, then checks each mirror concurrently (config, live, api, image, pull; see `checkMirror`). Pull checks
 * run one at a time because they share image names on one daemon. A failed check is part of the report, not an
 * exception; only bad input throws ({@link UsageError}, InvalidMirrorError), or a {@link VerificationError} when
 * there is no mirror to verify.
 */
export async function verifyMirror(options: VerifyMirrorOptions = {}): Promise<VerifyReport> {
  // Without the engine flags, exactly Docker's verify as it always was.
  if (options.engine === undefined && options.registry === undefined) return verifyDocker(options);
  return verifyEngines(options);
}

async function verifyDocker(options: VerifyMirrorOptions): Promise<VerifyReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new UsageError(`A timeout of ${timeoutMs} ms is not possible.`, { hint: 'Give a positive number of seconds.' });
  if (options.pull && options.image === undefined) {
    throw new UsageError('--pull needs an image to pull.', { hint: 'Add --image, e.g. --image alpine:3.16.2.' });
  }
  if (options.metricsUrl !== undefined) checkMetricsUrl(options.metricsUrl, options.mirror);
  if (options.accessLog !== undefined) needsOneMirror('--access-log', options.mirror);
  // One options object for the whole call: locateTarget looks in /proc once per object, and resolveMirror asks
  // it again for the same call.
  const named = options.mirror === undefined ? undefined : { ...options, mirror: options.mirror };
  const { located } = await locateTarget(named ?? options);
  const resolved = await resolveDockerHost(options);
  const engine = createEngine(resolved.endpoint);
  const [file, live, target] = await Promise.all([
    readFileLists(located.path),
    // Asked once for all mirrors; an unreachable daemon becomes a failed live check, not a crash.
    engine.liveRegistry(timeoutMs).catch((error: unknown) => asError(error)),
    named === undefined ? undefined : resolveMirror(named, { remember: true }),
  ]);
  const wanted = target ? [{ url: target.url, preset: target.preset, reasons: target.reasons }] : fromFile(file, located.path);
  const exclusive = queue();
  const results = await Promise.all(wanted.map(async (m): Promise<VerifyResult> => {
    const extra = { ...(m.preset ? { preset: m.preset } : {}), reasons: m.reasons };
    try {
      const result = await checkMirror({
        mirror: m.url, fileConfig: file, live, engine, timeoutMs, exclusive,
        ...(m.preset ? { preset: m.preset } : {}),
        ...(options.image === undefined ? {} : { image: options.image }),
        ...(options.pull ? { pull: true } : {}),
        ...(options.fresh ? { fresh: true } : {}),
        ...(options.metricsUrl === undefined ? {} : { metricsUrl: options.metricsUrl }),
        ...(options.accessLog === undefined ? {} : { accessLog: options.accessLog }),
      });
      return { ...result, ...extra };
    } catch (error) {
      // A mirror in daemon.json that dockerd would refuse fails its own config check; the others still run.
      if (target || !(error instanceof DockmirrorError) || error.code !== 'INVALID_MIRROR') throw error;
      const why = error.message;
      return { mirror: m.url, ...extra, ok: false, notes: [], checks: [{ name: 'config', ok: false, durationMs: 0,
        summary: 'daemon.json lists a mirror dockerd would refuse', why, fix: error.hint ?? 'Fix or remove the entry with dockmirror mirror remove.' }] };
    }
  }));
  return { ok: results.every((r) => r.ok), configFile: located.path, endpoint: resolved.endpoint, results };
}

/** The counters belong to one mirror, so a metrics URL needs that mirror named, and must be a plain http(s) URL. */
function checkMetricsUrl(url: string, mirror: string | undefined): void {
  needsOneMirror('--metrics-url', mirror);
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.username || parsed.password || url.length > 2048) {
    throw new UsageError(`--metrics-url ${JSON.stringify(url.slice(0, 200))} is not an http(s) URL.`, {
      hint: 'Give the registry\'s debug address with its metrics path, e.g. http://127.0.0.1:5001/metrics.',
    });
  }
}

function needsOneMirror(flag: string, mirror: string | undefined): void {
  if (mirror !== undefined) return;
  throw new UsageError(`${flag} belongs to one mirror, and no mirror was named.`, { hint: `Name the mirror it belongs to: dockmirror mirror verify <mirror> ${flag} <...>.` });
}

async function readFileLists(file: string): Promise<MirrorLists | Error> {
  try {
    const doc = await readDaemonConfig(file);
    return { mirrors: doc.mirrors ?? [], insecureRegistries: doc.insecureRegistries ?? [] };
  } catch (error) {
    if (error instanceof DockmirrorError) return error;
    throw error;
  }
}

function fromFile(file: MirrorLists | Error, path: string): { url: string; preset?: string; reasons: string[] }[] {
  if (file instanceof Error) throw file;
  if (file.mirrors.length === 0) {
    throw new VerificationError(`No mirror to verify: ${path} has no registry-mirrors.`, {
      location: { file: path },
      hint: 'Name a mirror or preset (dockmirror mirror verify local), or add one first (dockmirror add <preset|URL>).',
    });
  }
  return file.mirrors.map((url) => ({ url, reasons: [] }));
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Runs tasks one after another, in the order they were queued. */
function queue(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}

/**
 * Verify per engine (`--engine`, `--registry`): for each engine chosen (engines/registry.ts picks them), the
 * registry's mirrors from the engine's files, each checked (config, api with `?ns=`, image, and with `pull` the
 * engine's own pull, EngineTarget.verifyPull). Docker's docker.io mirrors go through Docker's verify above.
 */
async function verifyEngines(options: VerifyMirrorOptions): Promise<VerifyReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new UsageError(`A timeout of ${timeoutMs} ms is not possible.`, { hint: 'Give a positive number of seconds.' });
  const registry = registryName(options.registry);
  if (options.metricsUrl !== undefined) checkMetricsUrl(options.metricsUrl, options.mirror);
  if (options.accessLog !== undefined) needsOneMirror('--access-log', options.mirror);
  if (options.pull && options.image === undefined && registry !== DEFAULT_REGISTRY) {
    throw new UsageError(`--pull needs --image for ${registry}: only docker.io has a default test image (${DEFAULT_TEST_IMAGE}).`, {
      hint: `Name an image of ${registry} that the mirror serves, e.g. --image ${registry}/<org>/<repo>:<tag>.`,
    });
  }
  const imageName = options.image ?? (options.pull ? DEFAULT_TEST_IMAGE : undefined);
  const image = imageName === undefined ? undefined : parseRegistryImage(imageName, registry);
  const targets = await engineTargets(options as MutationOptions & EngineSelection);
  if (targets.length === 0) throw new UsageError('No container engine was found on this machine.', { hint: 'Name one with --engine docker|containerd|podman.' });
  const engines: EngineVerifyReport[] = [];
  // One engine after another: each pull is a real download into that engine's store.
  for (const target of targets) {
    if (target.engine === 'docker' && registry === DEFAULT_REGISTRY) {
      let docker: VerifyReport;
      try {
        docker = await verifyDocker({ ...options, ...(image ? { image: image.name } : {}), ...(options.pull && image ? { pull: true } : {}) });
      } catch (error) {
        // Among several engines, a daemon.json without mirrors is that engine's note, not the end of the others'.
        if (!(error instanceof VerificationError) || targets.length === 1) throw error;
        engines.push({ engine: 'docker', registry, configFile: target.configFile, files: [target.configFile], ok: true, results: [], note: error.message });
        continue;
      }
      engines.push({ engine: 'docker', registry, configFile: docker.configFile, files: [docker.configFile], endpoint: docker.endpoint, ok: docker.ok,
        results: docker.results.map((r) => ({ ...r, engine: 'docker' as const, registry })) });
      continue;
    }
    engines.push(await verifyEngine(target, registry, image === undefined ? options : { ...options, image: image.name }, timeoutMs));
  }
  const results = engines.flatMap((e) => e.results);
  if (results.length === 0) {
    const first = targets[0] as EngineTarget;
    throw new VerificationError(`No mirror to verify: ${targets.map((t) => t.engine).join(', ')} ${targets.length === 1 ? 'has' : 'have'} no mirror for ${registry}.`, {
      location: { file: first.configFile },
      hint: `Name a mirror, or add one first (dockmirror add <preset|URL> --engine ${first.engine}${registry === DEFAULT_REGISTRY ? '' : ` --registry ${registry}`}).`,
    });
  }
  const first = engines[0] as EngineVerifyReport;
  return { ok: engines.every((e) => e.ok), configFile: first.configFile, endpoint: first.endpoint ?? '', results, engines };
}

/** One engine's mirrors of `registry`, checked against its files and with its own pull. */
async function verifyEngine(target: EngineTarget, registry: string, options: VerifyMirrorOptions, timeoutMs: number): Promise<EngineVerifyReport> {
  let listed: RegistryMirror[] | Error;
  try {
    listed = (await engineMirrors(target, registry)).registries.find((r) => r.registry === registry)?.mirrors ?? [];
  } catch (error) {
    if (!(error instanceof DockmirrorError)) throw error;
    listed = error;
  }
  const files = target.files(registry).slice(-1);
  const named = options.mirror === undefined ? undefined : await resolveMirror({ ...options, mirror: options.mirror }, { remember: false }, target);
  if (!named && listed instanceof Error) throw listed;
  const wanted = named ? [{ url: named.url, preset: named.preset, reasons: named.reasons }] : (listed as RegistryMirror[]).map((m) => ({ url: mirrorUrlOf(m), preset: undefined, reasons: [] }));
  const base = { engine: target.engine, registry, configFile: target.configFile, files, ...(target.endpoint ? { endpoint: target.endpoint } : {}) };
  if (wanted.length === 0) return { ...base, ok: true, results: [], note: `${target.engine} has no mirror for ${registry} in ${files.join(', ')}` };
  const image = options.image === undefined ? undefined : parseRegistryImage(options.image, registry);
  const exclusive = queue();
  const pull = options.pull && target.verifyPull ? target.verifyPull.bind(target) : undefined;
  const results = await Promise.all(wanted.map(async (m) => {
    const result = await checkEngineMirror({
      engine: target.engine, mirror: m.url, registry, listed, files, timeoutMs, pullTimeoutMs: ENGINE_PULL_TIMEOUT_MS, exclusive,
      ...(image ? { image } : {}),
      ...(pull ? { pull } : {}),
      ...(options.metricsUrl === undefined ? {} : { metricsUrl: options.metricsUrl }),
      ...(options.accessLog === undefined ? {} : { accessLog: options.accessLog }),
    });
    if (options.pull && !target.verifyPull) {
      // Docker pulls another registry's images only with the containerd image store, through the daemon.
      result.checks = result.checks.map((c) => (c.name === 'pull' ? { ...c, summary: `${target.engine} has no pull of its own for ${registry} here` } : c));
    }
    return { ...result, ...(m.preset ? { preset: m.preset } : {}), reasons: m.reasons };
  }));
  return { ...base, ok: results.every((r) => r.ok), results };
}
