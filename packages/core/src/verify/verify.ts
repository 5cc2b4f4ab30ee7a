import { UsageError } from '../errors.js';
import { validateMirror } from '../mirror/url.js';
import { checkApi } from './check-api.js';
import { checkImage } from './check-image.js';
import { checkPull } from './check-pull.js';
import { checkConfig, checkLive } from './check-settings.js';
import { ALREADY_EXISTS_NOTE, DEFAULT_PROBE_TIMEOUT_MS } from './constants.js';
import { parseImageRef } from './image-ref.js';
import { inspectPyrsiaLog } from './pyrsia-inspect.js';
import type { Check, CheckMirrorOptions, VerifyResult } from './types.js';

export { ALREADY_EXISTS_NOTE, DEFAULT_PROBE_TIMEOUT_MS };

/**
 * Proves a mirror works: daemon.json lists it (config), the running daemon uses it (live), it speaks the registry
 * API (api), it serves an image's manifest (image) and the daemon pulls through it with the same digest (pull).
 * Independent checks run concurrently; every probe has a timeout. Never throws for a failed check, only for bad
 * input ({@link UsageError}, or InvalidMirrorError for a URL dockerd would refuse).
 */
export async function checkMirror(opts: CheckMirrorOptions): Promise<VerifyResult> {
  const mirror = validateMirror(opts.mirror).url;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const image = opts.image === undefined ? undefined : parseImageRef(opts.image);
  if (opts.pull && !image) throw new UsageError('The pull check needs an image.', { hint: 'Give an image, e.g. alpine:3.16.2.' });
  if (opts.pull && !opts.engine) throw new UsageError('The pull check needs a Docker engine.', { hint: 'Pass the engine, or drop pull.' });

  const config = timed(async () => checkConfig(mirror, opts.fileConfig));
  const live = timed(async () => checkLive(mirror, opts.live));
  const apiProbe = checkApi(mirror, timeoutMs);
  const api = timed(async () => (await apiProbe).check);
  let digest: string | undefined;
  const imageCheck = timed(async (): Promise<Omit<Check, 'durationMs'>> => {
    if (!image) return { name: 'image', ok: true, skipped: true, summary: 'no image given' };
    const result = await checkImage(mirror, image, timeoutMs);
    digest = result.digest;
    // Pyrsia's transparency log is asked only of a Pyrsia node: the preset says so, or /v2/ looks like one.
    const isPyrsia = opts.preset === 'pyrsia' || (await apiProbe).facts.pyrsiaLike;
    // No status means the mirror did not answer at all: asking its log too would only double the wait.
    if (!isPyrsia || !image.official || result.check.data?.status === undefined) return result.check;
    const log = await inspectPyrsiaLog(mirror, image.familiar, timeoutMs);
    return { ...result.check, summary: `${result.check.summary}; ${log.summary}`, data: { ...result.check.data, inspectLog: log } };
  });
  const first = await Promise.all([config, live, api, imageCheck]);

  let pull: Check;
  if (!opts.pull || !image || !opts.engine) {
    pull = { name: 'pull', ok: true, skipped: true, summary: 'not asked to pull', durationMs: 0 };
  } else if (digest === undefined) {
    pull = { name: 'pull', ok: true, skipped: true, summary: 'skipped: the mirror did not serve the image, so there is no digest to compare', durationMs: 0 };
  } else {
    const { engine } = opts;
    const known = digest;
    const exclusive = opts.exclusive ?? (<T>(task: () => Promise<T>) => task());
    pull = await exclusive(() => timed(async () => {
      try {
        return await checkPull({
          mirror, image, digest: known, engine, fresh: opts.fresh ?? false, timeoutMs,
          ...(opts.live && !(opts.live instanceof Error) ? { live: opts.live.mirrors } : {}),
          ...(opts.metricsUrl === undefined ? {} : { metricsUrl: opts.metricsUrl }),
          ...(opts.accessLog === undefined ? {} : { accessLog: opts.accessLog }),
        });
      } catch (error) {
        // The engine failing outside a pull (inspect, remove) is still a result, not a crash of verify.
        const hint = (error as { hint?: unknown }).hint;
        return { name: 'pull', ok: false, summary: 'the pull check could not talk to the daemon', why: (error as Error).message,
          fix: typeof hint === 'string' ? hint : 'Check that the Docker daemon is running and reachable.' };
      }
    }));
  }
  const checks = [...first, pull];
  return { mirror, ok: checks.every((c) => c.ok), checks, notes: [ALREADY_EXISTS_NOTE] };
}

/** How each check finds out, for a check that did not say more itself. */
const HOW: Record<Check['name'], string> = {
  config: 'read daemon.json',
  live: 'asked the running daemon (GET /info, RegistryConfig)',
  api: 'GET /v2/ on the mirror, from this machine (not from the daemon)',
  image: 'GET the manifest on the mirror, from this machine (not from the daemon)',
  pull: 'asked the daemon to pull',
};

async function timed(run: () => Promise<Omit<Check, 'durationMs'>>): Promise<Check> {
  const started = performance.now();
  const check = await run();
  const proof = check.skipped ? undefined : (check.proof ?? { proved: check.summary, how: HOW[check.name], basis: 'evidence' as const });
  return { ...check, ...(proof ? { proof } : {}), durationMs: Math.round(performance.now() - started) };
}
