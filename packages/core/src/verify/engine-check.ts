/**
 * Verify for engines that read their mirrors from files on every pull (containerd's hosts.toml, podman's
 * registries.conf): the files list the mirror (config), it speaks the registry API as the engine asks it (api,
 * with `?ns=<registry>`), it serves the image (image), and the engine's own resolver pulls it (pull). There is no
 * live check: these engines keep no running copy of the settings, the files are what the next pull uses.
 */
import type { EngineId, EnginePull, RegistryMirror } from '../engines/engine.js';
import { normalizeMirror } from '../mirror/url.js';
import { checkApi } from './check-api.js';
import { checkImage } from './check-image.js';
import { askEarlier, evidenceOf, SETTLE_MS, witnessOf } from './check-pull.js';
import type { RegistryImageRef } from './image-ref.js';
import { attributePlainPull } from './pull-source.js';
import type { Check, VerifyResult } from './types.js';

/** Inputs of {@link checkEngineMirror}. */
export interface EngineCheckOptions {
  /** The engine whose files and resolver are used (for the words of the report). */
  engine: EngineId;
  /** The mirror, as a URL (`http://127.0.0.1:5000`); a registries.conf location is given its scheme first. */
  mirror: string;
  /** The upstream registry the mirror serves. */
  registry: string;
  /** The registry's mirrors as the engine's files list them, in order; an Error when they could not be read. */
  listed: RegistryMirror[] | Error;
  /** The files read, for messages. */
  files: string[];
  /** The image to look up on the mirror, and to pull. */
  image?: RegistryImageRef;
  /** Pulls with the engine's own resolver (EngineTarget.verifyPull); omitted = no pull check. */
  pull?: (image: string, options: { timeoutMs: number }) => Promise<EnginePull>;
  /** Timeout of each HTTP probe, in ms. */
  timeoutMs: number;
  /** Timeout of the engine's pull, in ms. */
  pullTimeoutMs: number;
  /** The mirror's access log, counted around the pull (preferred over `metricsUrl`). */
  accessLog?: string;
  /** The mirror's Prometheus endpoint, read around the pull. */
  metricsUrl?: string;
  /** Runs the pull check; pulls of one engine run one at a time. */
  exclusive?: <T>(task: () => Promise<T>) => Promise<T>;
}

/** What each engine is, in a report's words. */
const WORDS: Record<EngineId, { files: string; resolver: string; rule: string; live: string }> = {
  docker: { files: 'hosts.toml', resolver: 'dockerd', rule: 'dockerd',
    live: 'GET /info shows only docker.io\'s mirrors, so there is no live view of another registry\'s to check' },
  containerd: { files: 'hosts.toml', resolver: 'ctr --hosts-dir (containerd\'s resolver)', rule: 'containerd',
    live: 'containerd keeps no running copy of hosts.toml: each pull reads the files, so the config check is what the next pull uses' },
  podman: { files: 'registries.conf', resolver: 'podman pull', rule: 'podman',
    live: 'podman keeps no running copy of registries.conf: each pull reads the files, so the config check is what the next pull uses' },
};

/** The mirror of a file entry as a URL: registries.conf spells `host[:port][/path]`, plain HTTP by `insecure`. */
export function mirrorUrlOf(mirror: RegistryMirror): string {
  return normalizeMirror(mirror.url.includes('://') ? mirror.url : `${mirror.plainHttp ? 'http' : 'https'}://${mirror.url}`);
}

/**
 * Checks one mirror of one registry for one engine. Never throws for a failed check: each failure is a check
 * with why and fix, and each passed check says what it proved and how (evidence, or inferred).
 */
export async function checkEngineMirror(opts: EngineCheckOptions): Promise<VerifyResult> {
  const mirror = normalizeMirror(opts.mirror);
  const words = WORDS[opts.engine];
  const config = timed(async () => checkListed(mirror, opts));
  const live = timed(async () => ({ name: 'live' as const, ok: true, skipped: true, summary: words.live }));
  const apiProbe = timed(async () => withHow((await checkApi(mirror, opts.timeoutMs, opts.registry)).check,
    `GET /v2/?ns=${opts.registry} on the mirror from this machine, as ${opts.engine} asks it (not from ${opts.engine} itself)`));
  let digest: string | undefined;
  const imageProbe = timed(async (): Promise<Omit<Check, 'durationMs'>> => {
    if (!opts.image) return { name: 'image', ok: true, skipped: true, summary: 'no image given' };
    const result = await checkImage(mirror, opts.image, opts.timeoutMs, opts.registry);
    digest = result.digest;
    return result.check;
  });
  const first = await Promise.all([config, live, apiProbe, imageProbe]);
  let pull: Check;
  if (!opts.pull || !opts.image) {
    pull = { name: 'pull', ok: true, skipped: true, summary: 'not asked to pull', durationMs: 0 };
  } else if (digest === undefined) {
    pull = { name: 'pull', ok: true, skipped: true, summary: 'skipped: the mirror did not serve the image, so there is no digest to compare', durationMs: 0 };
  } else {
    const exclusive = opts.exclusive ?? (<T>(task: () => Promise<T>) => task());
    const known = digest;
    pull = await exclusive(() => timed(() => pullCheck(mirror, known, opts)));
  }
  const checks = [...first, pull];
  return { mirror, engine: opts.engine, registry: opts.registry, ok: checks.every((c) => c.ok), checks, notes: [] };
}

function checkListed(mirror: string, opts: EngineCheckOptions): Omit<Check, 'durationMs'> {
  const words = WORDS[opts.engine];
  const where = opts.files.length === 1 ? (opts.files[0] as string) : `${opts.engine}'s ${words.files} files`;
  if (opts.listed instanceof Error) {
    const hint = (opts.listed as { hint?: unknown }).hint;
    return { name: 'config', ok: false, summary: `${words.files} could not be read`, why: opts.listed.message, fix: typeof hint === 'string' ? hint : `Fix ${words.files} as the error says, then verify again.` };
  }
  const urls = opts.listed.map(mirrorUrlOf);
  const at = urls.findIndex((u) => hostPath(u) === hostPath(mirror));
  const data = { position: at >= 0 ? at + 1 : undefined, of: urls.length, mirrors: urls, files: opts.files };
  const how = `read ${opts.files.join(', ') || where} the way ${opts.engine} does, for ${opts.registry}`;
  if (at < 0) {
    return { name: 'config', ok: false, data, summary: `${words.files} does not list the mirror for ${opts.registry}`,
      why: urls.length === 0 ? `${opts.engine} has no mirror for ${opts.registry}` : `${opts.engine} has ${urls.join(', ')} for ${opts.registry}, not ${mirror}`,
      fix: `dockmirror add ${mirror} --engine ${opts.engine}${opts.registry === 'docker.io' ? '' : ` --registry ${opts.registry}`}` };
  }
  const listed = opts.listed[at] as RegistryMirror;
  const wantsHttp = mirror.startsWith('http://');
  if (wantsHttp !== listed.plainHttp) {
    return { name: 'config', ok: false, data, summary: `${words.files} lists the mirror for ${opts.registry}, but ${listed.plainHttp ? 'as plain HTTP' : 'over TLS'}`,
      why: `${mirror} is ${wantsHttp ? 'plain HTTP' : 'TLS'}, and ${opts.engine} would talk ${listed.plainHttp ? 'plain HTTP' : 'TLS'} to it`,
      fix: `Remove it and add it again as ${mirror} (dockmirror remove, then dockmirror add, with --engine ${opts.engine}).` };
  }
  const order = at === 0 ? '' : ` (${opts.engine} tries mirrors in order, so earlier ones answer first)`;
  return { name: 'config', ok: true, data, summary: `${where} lists it for ${opts.registry} at position ${at + 1} of ${urls.length}${listed.plainHttp ? ', plain HTTP' : ''}${order}`,
    proof: { proved: `${opts.engine}'s files list ${mirror} for ${opts.registry}`, how, basis: 'evidence' } };
}

async function pullCheck(mirror: string, digest: string, opts: EngineCheckOptions): Promise<Omit<Check, 'durationMs'>> {
  const image = opts.image as RegistryImageRef;
  const words = WORDS[opts.engine];
  const listed = opts.listed instanceof Error ? undefined : opts.listed.map(mirrorUrlOf);
  const position = listed?.findIndex((u) => hostPath(u) === hostPath(mirror));
  const earlier = listed === undefined ? [] : await askEarlier(position === -1 ? listed : listed.slice(0, position), { image, timeoutMs: opts.timeoutMs }, opts.registry);
  const witness = witnessOf({ image, timeoutMs: opts.timeoutMs, ...(opts.accessLog === undefined ? {} : { accessLog: opts.accessLog }), ...(opts.metricsUrl === undefined ? {} : { metricsUrl: opts.metricsUrl }) });
  const before = await witness?.read();
  let pulled: EnginePull;
  try {
    pulled = await (opts.pull as NonNullable<EngineCheckOptions['pull']>)(image.name, { timeoutMs: opts.pullTimeoutMs });
  } catch (error) {
    return { name: 'pull', ok: false, summary: `${words.resolver} could not be run`, why: (error as Error).message, fix: `Check that ${opts.engine} is installed and running.` };
  }
  let after = pulled.ok ? await witness?.read() : undefined;
  // A registry logs a request once it has answered it, which can land just after the pull is done.
  if (witness && after && before && 'count' in after && 'count' in before && after.count === before.count) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    after = await witness.read();
  }
  const data: Record<string, unknown> = { image: image.name, expectedDigest: digest, engineDigests: pulled.digests, earlierMirrors: earlier, cleanup: pulled.cleanup };
  if (!pulled.ok) {
    return { name: 'pull', ok: false, data, summary: `${words.resolver} could not pull ${image.name}`, why: pulled.error ?? pulled.summary,
      proof: { proved: `${opts.engine} did not get ${image.name} through its mirrors`, how: pulled.how, basis: 'evidence' },
      fix: `Check that ${opts.engine} reaches the mirror (the config and api checks), and ${opts.engine}'s own output above.` };
  }
  const evidence = evidenceOf(witness, before, after);
  data.evidence = evidence;
  const source = attributePlainPull({ mirror, livePosition: position, earlier, evidence, order: { engine: words.rule, list: `${opts.engine}'s ${words.files}` } });
  data.servedBy = source.servedBy ?? null;
  const how = `${pulled.how}; ${source.how}`;
  // With no word from the mirror, an inferred answer also rests on no upstream being reachable to fall back to.
  const fallback = source.basis === 'inferred' ? `; ${opts.engine} falls back to ${opts.registry} itself when every mirror fails, which the mirror order cannot rule out` : '';
  if (!source.byThisMirror) {
    return { name: 'pull', ok: false, data, summary: `${opts.engine} pulled ${image.name}, but not from this mirror (from ${source.servedBy ?? `another mirror or ${opts.registry}`})`,
      why: source.how, proof: { proved: `${image.name} did not come from this mirror`, how, basis: source.basis },
      fix: source.servedBy && source.servedBy !== mirror
        ? `${opts.engine} takes an image from the first mirror that has it: put this mirror before ${source.servedBy} (dockmirror remove, then dockmirror add --position first).`
        : `Make sure ${words.files} lists the mirror for ${opts.registry} and that it serves the image; give --access-log or --metrics-url for the mirror's own word.` };
  }
  if (pulled.digests.length > 0 && !pulled.digests.includes(digest)) {
    return { name: 'pull', ok: false, data, summary: `${opts.engine} got a different image than the mirror serves`,
      why: `${opts.engine} recorded ${pulled.digests.join(', ')}, the mirror serves ${digest}`,
      proof: { proved: `the pulled ${image.name} is not the mirror's image`, how, basis: source.basis },
      fix: `The pull came from elsewhere (${opts.engine} falls back to ${opts.registry} when a mirror fails): check ${opts.engine}'s output.` };
  }
  const digestWords = pulled.digests.length > 0 ? `, ${digest.slice(0, 19)}… as the mirror serves it` : ' (the engine recorded no digest to compare)';
  const by = source.basis === 'inferred' ? 'by the mirror order, inferred' : evidence.source === 'access-log' ? 'by the mirror\'s access log' : 'by the mirror\'s counter';
  return { name: 'pull', ok: true, data,
    summary: `${words.resolver} pulled ${image.name} through this mirror (${by})${digestWords}; ${pulled.cleanup}`,
    proof: { proved: `${opts.engine} pulls ${image.name} through this mirror${pulled.digests.length > 0 ? ' and gets the mirror\'s image' : ''}`, how: `${how}${fallback}`, basis: source.basis } };
}

/** A mirror compared as the engines compare it: host and path, the scheme checked apart. */
function hostPath(url: string): string {
  return url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
}

function withHow(check: Omit<Check, 'durationMs'>, how: string): Omit<Check, 'durationMs'> {
  return check.ok && !check.proof ? { ...check, proof: { proved: check.summary, how, basis: 'evidence' } } : check;
}

async function timed(run: () => Promise<Omit<Check, 'durationMs'>>): Promise<Check> {
  const started = performance.now();
  const check = await run();
  const proof = check.skipped || check.proof ? check.proof : { proved: check.summary, how: `asked the mirror from this machine`, basis: 'evidence' as const };
  return { ...check, ...(proof ? { proof } : {}), durationMs: Math.round(performance.now() - started) };
}
