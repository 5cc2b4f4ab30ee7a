import { explainNetworkError, probe } from './http.js';

/** A reading of a registry's own request counters. */
export type CounterReading = { count: number } | { error: string };

/** The requests that carry an image: manifest and blob reads (a blob GET may answer with a redirect). */
const IMAGE_HANDLERS = new Set(['manifest', 'blob']);
const READ_METHODS = new Set(['get', 'head']);

/**
 * Reads how many image requests (manifest and blob GET/HEAD answered 2xx or 3xx) a distribution registry has
 * served, from its Prometheus endpoint (`http.debug.addr` with `prometheus.enabled`, e.g.
 * `http://127.0.0.1:5001/metrics`). Read before and after a pull, the difference is the mirror's own word on
 * whether the pull reached it. The counter covers every client, so a busy mirror can only make it larger.
 */
export async function readImageRequestCount(metricsUrl: string, timeoutMs: number): Promise<CounterReading> {
  let res;
  try {
    res = await probe(metricsUrl, { method: 'GET' }, timeoutMs);
  } catch (error) {
    return { error: explainNetworkError(error, metricsUrl, timeoutMs).why };
  }
  if (res.status !== 200) return { error: `GET ${metricsUrl} answered ${res.status}` };
  return countImageRequests(res.body.toString('utf8'));
}

/**
 * Sums `registry_http_requests_total` over the image handlers in Prometheus text. A registry that has served no
 * image yet has no such line, but it always exports some `registry_` metric; an answer with none is not a
 * distribution registry's metrics.
 */
export function countImageRequests(text: string): CounterReading {
  let count = 0;
  let registry = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('registry_')) registry = true;
    const m = /^registry_http_requests_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = new Map([...(m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1] ?? '', l[2] ?? '']));
    const value = Number(m[2]);
    if (!IMAGE_HANDLERS.has(labels.get('handler') ?? '') || !READ_METHODS.has((labels.get('method') ?? '').toLowerCase())) continue;
    if (!/^[23]\d\d$/.test(labels.get('code') ?? '') || !Number.isFinite(value)) continue;
    count += value;
  }
  if (!registry) return { error: 'the answer has no registry_ metrics: is this the registry\'s debug address, with prometheus enabled?' };
  return { count };
}
