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

/**
 * One request to the mirror with a hard deadline covering the body too, so an unreachable or stalled mirror
 * fails within `timeoutMs` and never hangs verification. Redirects are followed (registries redirect blobs).
 */
export async function probe(url: string, init: RequestInit, timeoutMs: number): Promise<ProbeResponse> {
  const started = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, latencyMs: Math.round(performance.now() - started) };
}

/** A failed probe, explained. */
export interface ProbeFailure {
  /** One line: what went wrong. */
  why: string;
  /** One line: what to do. */
  fix: string;
}

/** Turns a fetch failure into a one-line why and fix. undici hides the socket error in `cause`. */
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
