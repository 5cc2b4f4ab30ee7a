import { UsageError } from '../errors.js';

/** An image on Docker Hub, as a mirror sees it. */
export interface ImageRef {
  /** Repository path on the registry: `library/alpine`. */
  repository: string;
  /** Tag or `sha256:` digest. */
  reference: string;
  /** The familiar form docker and Pyrsia use: `alpine:3.16.2`. */
  familiar: string;
  /** Whether it is an official (`library/`) image, the only kind a Pyrsia node routes. */
  official: boolean;
}

/**
 * Parses `alpine`, `alpine:3.16.2`, `library/alpine:3.16.2`, `docker.io/library/alpine` or `alpine@sha256:...`.
 * Mirrors only serve Docker Hub, so any other registry host is a {@link UsageError}.
 */
export function parseImageRef(input: string): ImageRef {
  let rest = input.trim().replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '');
  const bad = (why: string): never => {
    throw new UsageError(`Cannot check image "${input}": ${why}.`, { hint: 'Give a Docker Hub image such as alpine:3.16.2 or library/alpine:3.16.2.' });
  };
  const first = rest.split('/')[0] ?? '';
  if (rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    bad(`registry mirrors only serve Docker Hub images, not ${first}`);
  }
  let reference = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[a-f0-9]{64}$/.test(reference)) bad('the digest is not sha256:<64 hex>');
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!/^[\w][\w.-]{0,127}$/.test(reference)) bad(`"${reference}" is not a valid tag`);
    }
  }
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(rest)) bad('not a valid repository name');
  const repository = rest.includes('/') ? rest : `library/${rest}`;
  const official = repository.startsWith('library/') && repository.split('/').length === 2;
  const short = official ? repository.slice('library/'.length) : repository;
  const familiar = reference.startsWith('sha256:') ? `${short}@${reference}` : `${short}:${reference}`;
  return { repository, reference, familiar, official };
}

/** An image of one upstream registry, as an engine pulls it and as that registry's mirror serves it. */
export interface RegistryImageRef extends ImageRef {
  /** The upstream registry, e.g. `docker.io`, `ghcr.io`. */
  registry: string;
  /** The fully qualified name engines pull by: `docker.io/library/alpine:3.16.2`, `ghcr.io/someorg/tool:1`. */
  name: string;
}

/**
 * Parses an image of `registry` for the engines' verify: `docker.io/library/alpine:3.16.2`, `alpine:3.16.2` (of
 * docker.io), `ghcr.io/someorg/tool:1`, or `someorg/tool:1` with `registry` ghcr.io. An image of another registry
 * is a {@link UsageError}: the registry's mirrors do not serve it.
 */
export function parseRegistryImage(input: string, registry: string): RegistryImageRef {
  const text = input.trim();
  const first = text.split('/')[0] ?? '';
  const named = text.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first.toLowerCase() : undefined;
  const upstream = registry === 'docker.io' ? ['docker.io', 'index.docker.io', 'registry-1.docker.io'] : [registry];
  if (named !== undefined && !upstream.includes(named)) {
    throw new UsageError(`Cannot check image "${input.slice(0, 200)}": it is an image of ${named}, and the mirrors verified are ${registry}'s.`, {
      hint: `Give an image of ${registry}, or verify ${named}'s mirrors with --registry ${named}.`,
    });
  }
  const rest = named === undefined ? text : text.slice(first.length + 1);
  // The Docker Hub parser knows library/ and tags; a repository of another registry is taken as written.
  // Another registry's repository gets a stand-in first part to pass it, taken off again: its first part may be
  // one part only, or hold a dot, which Docker Hub's parser would read as a registry host.
  const other = registry !== 'docker.io';
  let ref: ImageRef;
  try {
    ref = parseImageRef(other ? `x/${rest}` : rest);
  } catch (error) {
    if (!other || !(error instanceof UsageError)) throw error;
    const why = /: ([^:]+)\.$/.exec(error.message)?.[1] ?? 'not a valid image name';
    throw new UsageError(`Cannot check image "${input.slice(0, 200)}": ${why}.`, { hint: `Give an image of ${registry} such as ${registry}/<org>/<repo>:<tag>.` });
  }
  const repository = other ? ref.repository.slice(2) : ref.repository;
  const tail = ref.reference.startsWith('sha256:') ? `@${ref.reference}` : `:${ref.reference}`;
  const name = `${registry}/${repository}${tail}`;
  return { repository, reference: ref.reference, familiar: registry === 'docker.io' ? ref.familiar : name, official: registry === 'docker.io' && ref.official, registry, name };
}
