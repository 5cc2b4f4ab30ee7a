import type { Check } from './types.js';
import { explainNetworkError, mirrorUrl, probe } from './http.js';

/** What the api check found, beyond pass/fail. */
export interface ApiFacts {
  /** HTTP status of `GET /v2/`. */
  status?: number;
  /** Round trip in ms. */
  latencyMs?: number;
  /** The Docker-Distribution-API-Version header, when sent. */
  apiVersion?: string;
  /** The auth realm from WWW-Authenticate on a 401. */
  realm?: string;
  /** The mirror looks like a Pyrsia node: `{}` body and no version header. */
  pyrsiaLike: boolean;
}

/**
 * Check 3: `GET <mirror>/v2/` answers 200 (open) or 401 (registry behind auth). Only GET: a Pyrsia node answers
 * HEAD with 500 and sends no version header, and must still pass. With `registry`, the request carries
 * `?ns=<registry>` as containerd's requests to a mirror do, so a mirror serving several upstreams is asked about
 * the one that will use it.
 */
export async function checkApi(mirror: string, timeoutMs: number, registry?: string): Promise<{ check: Omit<Check, 'durationMs'>; facts: ApiFacts }> {
  const url = mirrorUrl(mirror, registry === undefined ? '/v2/' : `/v2/?ns=${encodeURIComponent(registry)}`);
  let res;
  try {
    res = await probe(url, { method: 'GET' }, timeoutMs);
  } catch (error) {
    const failure = explainNetworkError(error, url, timeoutMs);
    return { check: { name: 'api', ok: false, summary: 'the mirror did not answer GET /v2/', ...failure }, facts: { pyrsiaLike: false } };
  }
  const apiVersion = res.headers.get('docker-distribution-api-version') ?? undefined;
  const realm = /realm="([^"]+)"/i.exec(res.headers.get('www-authenticate') ?? '')?.[1];
  const pyrsiaLike = res.status === 200 && apiVersion === undefined && res.body.toString('utf8').trim() === '{}';
  const facts: ApiFacts = { status: res.status, latencyMs: res.latencyMs, apiVersion, realm, pyrsiaLike };
  const data = { ...facts };
  if (res.status === 200) {
    const kind = pyrsiaLike ? ' (looks like a Pyrsia node: {} without a version header)' : apiVersion ? ` (${apiVersion})` : '';
    return { check: { name: 'api', ok: true, data, summary: `GET /v2/ answered 200 in ${res.latencyMs} ms${kind}` }, facts };
  }
  if (res.status === 401) {
    const auth = realm ? `; auth realm ${realm}` : '';
    return { check: { name: 'api', ok: true, data, summary: `GET /v2/ answered 401 in ${res.latencyMs} ms: a registry that wants credentials${auth}` }, facts };
  }
  const why = res.status === 404
    ? 'GET /v2/ answered 404: this URL is not the root of a Docker registry (v2 API)'
    : `GET /v2/ answered ${res.status}`;
  const fix = res.status === 404 ? 'Point the mirror at the registry root (the URL that serves /v2/).' : 'Check the mirror\'s own log for the error.';
  return { check: { name: 'api', ok: false, data, summary: 'the mirror does not speak the registry API', why, fix }, facts };
}
