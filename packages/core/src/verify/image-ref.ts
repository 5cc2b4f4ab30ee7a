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
