import type { Check, PullEngine } from './types.js';
import type { ImageRef } from './image-ref.js';

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
}

/**
 * Check 5: the daemon itself pulls through the mirror. First `<mirror-host>/<repo>:<tag>` (the daemon reaches the
 * mirror directly), then the plain name (the mirror setting is used); both must carry the mirror's digest.
 * Only what this check added is removed afterwards; an image the user had is left alone unless `fresh`.
 */
export async function checkPull(inp: PullInputs): Promise<Omit<Check, 'durationMs'>> {
  const url = new URL(inp.mirror);
  const tagOrDigest = inp.image.reference.startsWith('sha256:') ? `@${inp.image.reference}` : `:${inp.image.reference}`;
  const mirrorRepo = `${url.host}/${inp.image.repository}`;
  const mirrorRef = `${mirrorRepo}${tagOrDigest}`;
  const plainRef = inp.image.familiar;
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
        fix: url.protocol === 'http:' ? `Make sure "${url.host}" is in insecure-registries and reachable from the daemon (on Docker Desktop, from its VM).` : 'Make sure the daemon can reach the mirror host (proxy, DNS, certificates).' };
    }
    const plain = await pullAndDigest(inp.engine, plainRef, plainRepos);
    data.plainDigest = plain.digest;
    if ('error' in plain) {
      return { name: 'pull', ok: false, data, summary: `the daemon could not pull ${plainRef}`, why: plain.error,
        fix: 'Check that the mirror is live in the daemon (the live check) and the daemon log for the pull.' };
    }
    const wrong = [[mirrorRef, viaMirror.digest], [plainRef, plain.digest]].filter(([, d]) => d !== inp.digest);
    if (wrong.length > 0) {
      return { name: 'pull', ok: false, data, summary: 'the daemon got a different image than the mirror serves',
        why: wrong.map(([ref, d]) => `${ref} has ${d ?? 'no repo digest'}`).join('; ') + `, the mirror serves ${inp.digest}`,
        fix: 'The pull came from elsewhere (dockerd falls back to Docker Hub when a mirror fails): check the daemon log.' };
    }
    return { name: 'pull', ok: true, data, summary: `the daemon pulled ${mirrorRef} and ${plainRef}, both ${inp.digest.slice(0, 19)}…` };
  } finally {
    await cleanup();
  }
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
