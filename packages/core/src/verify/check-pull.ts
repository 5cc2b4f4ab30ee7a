import type { Check, PullEngine } from './types.js';
import type { ImageRef } from './image-ref.js';
import { validateMirror } from '../mirror/url.js';
import { checkImage } from './check-image.js';
import { mirrorPosition } from './insecure.js';
import { readAccessLogCount } from './access-log.js';
import { readImageRequestCount, type CounterReading } from './mirror-counters.js';
import { attributePlainPull, type EarlierMirror, type MirrorEvidence } from './pull-source.js';

/** Inputs of {@link checkPull}. */
export interface PullInputs {
  /** The mirror URL (normalised). */
  mirror: string;
  /** The image, already found on the mirror. */
  image: ImageRef;
  /** The manifest digest the mirror serves. */
  digest: string;
  /** The engine to pull with. */
  engine: PullEngine;
  /** Remove local copies first so the pull goes to the network. */
  fresh: boolean;
  /** The daemon's live mirrors in its order (`GET /info`); `undefined` when the daemon was not asked. */
  live?: readonly string[];
  /** The mirror's Prometheus endpoint, read around the plain-name pull. */
  metricsUrl?: string;
  /** The mirror's access log, whose lines for this image are counted around the plain-name pull (preferred: it names the image). */
  accessLog?: string;
  /** Timeout of each probe of a mirror or its counters. */
  timeoutMs: number;
}

/**
 * Check 5: the daemon itself pulls through the mirror. First `<mirror-host>/<repo>:<tag>`: that name has no
 * other source, so a matching digest shows the daemon reaches this mirror. Then the plain name, which dockerd
 * takes from the first live mirror that has it: the mirror's own request counters (with `metricsUrl`) say
 * whether it came here, else the live order does, and a mirror behind another live mirror holding the image
 * does not pass. Equal digests prove integrity only. Only what this check added is removed afterwards.
 */
export async function checkPull(inp: PullInputs): Promise<Omit<Check, 'durationMs'>> {
  // Go's reading of the URL, not WHATWG's: `http://h:80` names h:80 to dockerd.
  const url = validateMirror(inp.mirror);
  const tagOrDigest = inp.image.reference.startsWith('sha256:') ? `@${inp.image.reference}` : `:${inp.image.reference}`;
  const mirrorRepo = `${url.host}/${inp.image.repository}`;
  const mirrorRef = `${mirrorRepo}${tagOrDigest}`;
  const plainRef = inp.image.familiar;
  // Stryker disable next-line Regex: `.*` runs to the end of the name, so the anchor changes nothing
  const plainRepos = [inp.image.familiar.replace(/[:@].*$/, ''), inp.image.repository, `docker.io/${inp.image.repository}`];
  const existed = new Set<string>();
  const removedFirst: string[] = [];
  for (const ref of [mirrorRef, plainRef]) {
    if (!(await inp.engine.inspectImage(ref))) continue;
    if (inp.fresh) {
      await inp.engine.removeImage(ref);
      removedFirst.push(ref);
    } else existed.add(ref);
  }
  const data: Record<string, unknown> = { mirrorRef, plainRef, expectedDigest: inp.digest, removedFirst, alreadyLocal: [...existed] };
  const direct = 'only this mirror can serve a name that carries its host';
  const cleanup = async (): Promise<void> => {
    const cleaned: string[] = [];
    // Refs removed because of `fresh` were the user's: they are pulled again and kept.
    for (const ref of [mirrorRef, plainRef]) {
      if (existed.has(ref) || removedFirst.includes(ref)) continue;
      try {
        await inp.engine.removeImage(ref);
        cleaned.push(ref);
      } catch (error) {
        data.cleanupError = `could not remove ${ref}: ${(error as Error).message}`;
      }
    }
    data.cleanedUp = cleaned;
  };
  try {
    const viaMirror = await pullAndDigest(inp.engine, mirrorRef, [mirrorRepo]);
    data.mirrorDigest = viaMirror.digest;
    if ('error' in viaMirror) {
      return { name: 'pull', ok: false, data, summary: `the daemon could not pull ${mirrorRef}`, why: viaMirror.error,
        proof: { proved: 'the daemon did not reach the mirror by its own name', how: `the daemon's pull of ${mirrorRef} failed`, basis: 'evidence' },
        fix: url.insecure ? `Make sure "${url.host}" is in insecure-registries and reachable from the daemon (on Docker Desktop, from its VM).` : 'Make sure the daemon can reach the mirror host (proxy, DNS, certificates).' };
    }
    if (viaMirror.digest !== inp.digest) {
      return { name: 'pull', ok: false, data, summary: 'the daemon got a different image from the mirror than the mirror serves here',
        why: `${mirrorRef} has ${viaMirror.digest ?? 'no repo digest'}, the mirror serves ${inp.digest} to this machine`,
        proof: { proved: 'the daemon and this machine see different images on the mirror', how: direct, basis: 'evidence' },
        fix: 'The daemon may reach another host by this name (DNS, proxy, Docker Desktop VM): check from where the daemon runs.' };
    }
    const position = inp.live === undefined ? undefined : mirrorPosition(inp.live, inp.mirror);
    const earlier = inp.live === undefined ? [] : await askEarlier(position === -1 ? inp.live : inp.live.slice(0, position), inp);
    data.earlierMirrors = earlier;
    const witness = witnessOf(inp);
    const before = await witness?.read();
    const plain = await pullAndDigest(inp.engine, plainRef, plainRepos);
    data.plainDigest = plain.digest;
    // Stryker disable next-line StringLiteral: a reading after a failed pull is never used (the failure returns first)
    let after = 'error' in plain ? undefined : await witness?.read();
    // A registry counts or logs a request once it has answered it, which can land just after the daemon is done.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: timing only; it decides whether to wait and read again
    if (witness && after && before && 'count' in after && 'count' in before && after.count === before.count) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      after = await witness.read();
    }
    if ('error' in plain) {
      return { name: 'pull', ok: false, data, summary: `the daemon could not pull ${plainRef}`, why: plain.error,
        proof: { proved: `the daemon reaches the mirror by its own name, but could not pull ${plainRef}`, how: direct, basis: 'evidence' },
        fix: 'Check that the mirror is live in the daemon (the live check) and the daemon log for the pull.' };
    }
    const evidence = evidenceOf(witness, before, after);
    data.evidence = evidence;
    const source = attributePlainPull({ mirror: inp.mirror, livePosition: position, earlier, evidence });
    data.servedBy = source.servedBy ?? null;
    const how = `${mirrorRef}: ${direct}; ${plainRef}: ${source.how}`;
    if (!source.byThisMirror) {
      const from = source.servedBy ?? 'another source (a mirror the daemon asked first, or Docker Hub)';
      const sameDigest = plain.digest === inp.digest ? ' Its digest matches, which every faithful mirror gives: it proves the image is intact, not where it came from.' : '';
      return { name: 'pull', ok: false, data,
        summary: `the daemon pulled ${mirrorRef} from this mirror, but ${plainRef} from ${from}`,
        why: `${source.how}.${sameDigest}`,
        proof: { proved: `the daemon reaches this mirror by its own name; the plain name did not come from it`, how, basis: source.basis },
        fix: source.servedBy && source.servedBy !== inp.mirror
          ? `dockerd takes a plain name from the first live mirror that has it: move this mirror before ${source.servedBy} in registry-mirrors (dockmirror remove ${inp.mirror}, then dockmirror add ${inp.mirror}), or verify it while ${source.servedBy} is stopped.`
          : 'Make sure the mirror is live in the daemon and first among the mirrors that hold the image; give --metrics-url or --access-log for the mirror\'s own word.' };
    }
    if (plain.digest !== inp.digest) {
      return { name: 'pull', ok: false, data, summary: 'the daemon got a different image than the mirror serves',
        why: `${plainRef} has ${plain.digest ?? 'no repo digest'}, the mirror serves ${inp.digest}`,
        proof: { proved: 'the plain name did not give the mirror\'s image', how, basis: source.basis },
        fix: 'The pull came from elsewhere (dockerd falls back to Docker Hub when a mirror fails): check the daemon log.' };
    }
    const basis = source.basis === 'inferred' ? 'the mirror order' : evidence.source === 'access-log' ? 'the mirror\'s access log' : 'the mirror\'s counter';
    return { name: 'pull', ok: true, data,
      summary: `the daemon pulled ${mirrorRef} and ${plainRef} through this mirror (by ${basis}), both ${inp.digest.slice(0, 19)}…`,
      proof: { proved: `the daemon pulls ${plainRef} through this mirror and gets the mirror's image`, how, basis: source.basis } };
  } finally {
    await cleanup();
  }
}

/** How long a mirror may take to record a request it already answered. */
export const SETTLE_MS = 300;

/**
 * Asks each earlier mirror for the image's manifest, one after another as dockerd (and containerd, and podman)
 * would; with `registry`, with `?ns=<registry>` as containerd sends it.
 */
export async function askEarlier(mirrors: readonly string[], inp: Pick<PullInputs, 'image' | 'timeoutMs'>, registry?: string): Promise<EarlierMirror[]> {
  const out: EarlierMirror[] = [];
  for (const raw of mirrors) {
    const mirror = raw.replace(/\/+$/, '');
    const served = await checkImage(mirror, inp.image, inp.timeoutMs, registry).catch(() => undefined);
    out.push({ mirror, serves: served?.check.ok === true });
    // dockerd stops at the first mirror that serves it; the rest are never asked.
    if (served?.check.ok) break;
  }
  return out;
}

/** Where the mirror's own word comes from: its access log (it names the image), else its metrics endpoint. */
export interface Witness {
  /** Which kind of witness. */
  source: 'metrics' | 'access-log';
  /** The metrics URL or the access log's path. */
  url: string;
  /** Reads the count now. */
  read(): Promise<CounterReading>;
}

/** The mirror's own witness of a pull: its access log when given, else its metrics endpoint, else none. */
export function witnessOf(inp: Pick<PullInputs, 'accessLog' | 'metricsUrl' | 'image' | 'timeoutMs'>): Witness | undefined {
  const { accessLog, metricsUrl, image, timeoutMs } = inp;
  if (accessLog !== undefined) return { source: 'access-log', url: accessLog, read: () => readAccessLogCount(accessLog, image) };
  if (metricsUrl !== undefined) return { source: 'metrics', url: metricsUrl, read: () => readImageRequestCount(metricsUrl, timeoutMs) };
  return undefined;
}

/** What the witness's readings before and after a pull say, or why they say nothing. */
export function evidenceOf(witness: Witness | undefined, before: CounterReading | undefined, after: CounterReading | undefined): MirrorEvidence {
  if (witness === undefined) return { source: 'none', why: 'nothing from the mirror itself was read (give --metrics-url or --access-log)' };
  const what = witness.source === 'metrics' ? 'counters' : 'access log';
  const failed = [before, after].find((r) => r !== undefined && 'error' in r);
  if (failed && 'error' in failed) return { source: 'none', why: `the mirror's ${what} could not be read: ${failed.error}` };
  if (!before || !after || 'error' in before || 'error' in after) return { source: 'none', why: `the mirror's ${what} could not be read` };
  return { source: witness.source, url: witness.url, before: before.count, after: after.count };
}

async function pullAndDigest(engine: PullEngine, ref: string, repos: string[]): Promise<{ digest?: string } | { digest?: string; error: string }> {
  try {
    await engine.pull(ref);
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0] ?? String(error) };
  }
  const image = await engine.inspectImage(ref);
  const digest = image?.repoDigests
    .map((rd) => rd.split('@'))
    .find(([repo]) => repo !== undefined && repos.includes(repo))?.[1];
  return { digest };
}
