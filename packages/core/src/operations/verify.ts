import { readDaemonConfig } from '../config/io.js';
import { DockmirrorError, UsageError, VerificationError } from '../errors.js';
import { resolveDockerHost } from '../daemon/endpoint.js';
import { createEngine } from '../daemon/engine.js';
import type { ConnectOptions } from '../apply/connect.js';
import { checkMirror, DEFAULT_PROBE_TIMEOUT_MS } from '../verify/verify.js';
import type { MirrorLists, VerifyResult } from '../verify/types.js';
import { resolveMirror, type PresetAddressOptions } from './mirrors.js';
import { locateTarget } from './options.js';

/** Options of {@link verifyMirror}; names match the flags of `dockmirror mirror verify`. */
export interface VerifyMirrorOptions extends ConnectOptions, PresetAddressOptions {
  /** A mirror URL or preset name; omitted = every mirror in daemon.json. */
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
  /** The daemon.json the config check read. */
  configFile: string;
  /** The Docker endpoint asked for the live settings (and used for pulls). */
  endpoint: string;
  /** One result per mirror, in daemon.json order (or the one mirror asked for). */
  results: VerifyResult[];
}

/**
 * Proves mirrors work (`dockmirror mirror verify`): reads daemon.json, asks the daemon once for its live
 * settings, then checks each mirror concurrently (config, live, api, image, pull; see `checkMirror`). Pull checks
 * run one at a time because they share image names on one daemon. A failed check is part of the report, not an
 * exception; only bad input throws ({@link UsageError}, InvalidMirrorError), or a {@link VerificationError} when
 * there is no mirror to verify.
 */
export async function verifyMirror(options: VerifyMirrorOptions = {}): Promise<VerifyReport> {
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
