import http from 'node:http';
import https from 'node:https';

/** A finished HTTP exchange with the mirror. */
export interface ProbeResponse {
  /** HTTP status. */
  status: number;
  /** Response headers. */
  headers: Headers;
  /** The whole body. */
  body: Buffer;
  /** Time until the body was read. */
  latencyMs: number;
}

/** What {@link probe} sends. */
export interface ProbeRequest {
  /** HTTP method. */
  method: 'GET' | 'POST';
  /** Request headers. */
  headers?: Record<string, string>;
  /** Request body. */
  body?: string;
}

/** Manifests and registry answers are small; anything bigger is not what verify asked for. */
const MAX_BODY = 8 * 1024 * 1024;
const MAX_REDIRECTS = 5;

/**
 * One request to the mirror with a hard deadline covering redirects and the body too, so an unreachable or
 * stalled mirror fails within `timeoutMs` and never hangs verification. Redirects are followed (registries
 * redirect blobs). Plain node:http rather than fetch: fetch refuses the WHATWG "bad ports" (6000, 5060, 10080...)
 * that dockerd dials happily, which would fail a mirror that works.
 */
export async function probe(url: string, init: ProbeRequest, timeoutMs: number): Promise<ProbeResponse> {
  const started = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  let target = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await exchange(target, init, signal);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location && hop < MAX_REDIRECTS) {
      target = new URL(location, target);
      // As browsers and fetch do: 303 (and 301/302 after POST) turn into GET.
      if (res.status === 303 || init.method === 'POST') init = { method: 'GET', ...(init.headers ? { headers: init.headers } : {}) };
      continue;
    }
    return { ...res, latencyMs: Math.round(performance.now() - started) };
  }
}

function exchange(url: URL, init: ProbeRequest, signal: AbortSignal): Promise<Omit<ProbeResponse, 'latencyMs'>> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: init.method, headers: { 'user-agent': 'dockmirror-verify', ...init.headers }, signal, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) req.destroy(new Error(`the answer is larger than ${MAX_BODY} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
            try {
              headers.append(name, v);
            } catch {
              // A header value Headers refuses (bytes outside Latin-1) carries nothing verify reads.
            }
          }
        }
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A failed probe, explained. */
export interface ProbeFailure {
  /** One line: what went wrong. */
  why: string;
  /** One line: what to do. */
  fix: string;
}

/** Turns a failed request into a one-line why and fix (the socket error may sit in `cause`). */
export function explainNetworkError(error: unknown, url: string, timeoutMs: number): ProbeFailure {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? (err as NodeJS.ErrnoException).code;
  const where = safeHost(url);
  if (err.name === 'TimeoutError' || err.name === 'AbortError') {
    return { why: `no answer from ${where} within ${timeoutMs} ms`, fix: 'Check that the mirror is up and that no firewall drops traffic to it.' };
  }
  if (code === 'ECONNREFUSED') {
    return { why: `connection refused by ${where}: nothing listens there`, fix: 'Start the mirror, or correct its host and port.' };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { why: `the host name of ${where} does not resolve`, fix: 'Check the spelling of the host, or use its IP address.' };
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') {
    return { why: `${where} closed the connection`, fix: 'Check the scheme: an https:// URL for an HTTP-only mirror (or the reverse) does this.' };
  }
  if (code === 'EPROTO' || (typeof code === 'string' && code.startsWith('HPE_'))) {
    return { why: `${where} did not answer in the protocol of the URL's scheme (${code})`, fix: 'Check the scheme: https:// for a TLS mirror, http:// for a plain one.' };
  }
  if (typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED/.test(code)) {
    return { why: `TLS failed with ${where}: ${code}`, fix: 'Use a certificate the system trusts, or put the CA in /etc/docker/certs.d/<host>/ca.crt.' };
  }
  const detail = err.cause?.message ?? err.message;
  return { why: `request to ${where} failed: ${detail}`, fix: 'Check the mirror URL and that the mirror is reachable from this machine.' };
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** Joins the mirror base URL (maybe with a path prefix) and a registry path. */
export function mirrorUrl(mirror: string, path: string): string {
  return `${mirror.replace(/\/+$/, '')}${path}`;
}
