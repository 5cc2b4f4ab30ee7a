import type { Check } from './types.js';
import type { ImageRef } from './image-ref.js';
import { explainNetworkError, mirrorUrl, probe } from './http.js';
import { sha256Hex } from '../support/sha256.js';

/** Every manifest type docker accepts, so the mirror answers what `docker pull` would get. */
export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/**
 * Check 4: the mirror serves the image's manifest. The body is checked, not just the status, because a Pyrsia
 * node can answer 200 with `{"errors":[...]}`. The digest is the Docker-Content-Digest header, else the sha256 of
 * the body (Pyrsia sends no header). With `registry`, the request carries `?ns=<registry>`.
 */
export async function checkImage(mirror: string, image: ImageRef, timeoutMs: number, registry?: string): Promise<{ check: Omit<Check, 'durationMs'>; digest?: string }> {
  const path = `/v2/${image.repository}/manifests/${image.reference}`;
  // With `registry`, asked as containerd asks a mirror: `?ns=<upstream>` names the registry the image is of.
  const asked = registry === undefined ? path : `${path}?ns=${encodeURIComponent(registry)}`;
  const url = mirrorUrl(mirror, asked);
  let res;
  try {
    res = await probe(url, { method: 'GET', headers: { accept: MANIFEST_ACCEPT } }, timeoutMs);
  } catch (error) {
    return { check: { name: 'image', ok: false, summary: `could not ask the mirror for ${image.familiar}`, ...explainNetworkError(error, url, timeoutMs) } };
  }
  const base = { reference: image.familiar, path, status: res.status, latencyMs: res.latencyMs };
  const body = parseJson(res.body);
  const errors = Array.isArray(body?.errors) ? (body.errors as unknown[]) : undefined;
  if (res.status === 200 && !errors && body && typeof body.schemaVersion === 'number') {
    const header = res.headers.get('docker-content-digest') ?? undefined;
    const digest = header ?? `sha256:${sha256Hex(res.body)}`;
    const mediaType = typeof body.mediaType === 'string' ? body.mediaType : (res.headers.get('content-type') ?? undefined);
    const data = { ...base, digest, digestSource: header ? 'header' : 'body', mediaType };
    const proof = { proved: `the mirror serves ${image.familiar} as ${digest}`, basis: 'evidence' as const,
      how: `GET ${asked} from this machine; the digest is ${header ? 'its Docker-Content-Digest header' : 'the sha256 of the body (no digest header)'}` };
    return { check: { name: 'image', ok: true, data, proof, summary: `the mirror serves ${image.familiar} (${digest.slice(0, 19)}…, ${res.latencyMs} ms)` }, digest };
  }
  const data = { ...base, errors };
  const first = errorText(errors);
  if (res.status === 200) {
    return { check: { name: 'image', ok: false, data,
      summary: `the mirror answered 200 for ${image.familiar} but sent no manifest`,
      why: errors ? `the body is an error, not a manifest: ${first}` : 'the body is not a manifest',
      fix: 'The image is not on the mirror yet (a Pyrsia node starts fetching it on the first request): retry in a minute.' } };
  }
  if (res.status === 404) {
    return { check: { name: 'image', ok: false, data,
      summary: `the mirror does not have ${image.familiar}`,
      why: `GET ${path} answered 404${first ? `: ${first}` : ''}`,
      fix: 'Check the image name and tag; a pull-through cache or Pyrsia node fetches it on first use, so retry shortly.' } };
  }
  if (res.status === 401) {
    return { check: { name: 'image', ok: false, data, summary: `the mirror wants credentials for ${image.familiar}`,
      why: `GET ${path} answered 401`, fix: 'Run docker login for the mirror host; dockmirror does not send credentials.' } };
  }
  return { check: { name: 'image', ok: false, data, summary: `the mirror failed to serve ${image.familiar}`,
    why: `GET ${path} answered ${res.status}${first ? `: ${first}` : ''}`,
    fix: image.official ? 'Check the mirror\'s log for the error.' : 'A Pyrsia node serves only official images (library/...): pick one of those.' } };
}

function parseJson(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function errorText(errors: unknown[] | undefined): string {
  const e = errors?.[0] as { code?: unknown; message?: unknown } | undefined;
  if (!e) return '';
  const code = typeof e.code === 'string' ? e.code : JSON.stringify(e.code);
  return typeof e.message === 'string' && e.message ? `${code} ${e.message}` : String(code);
}
