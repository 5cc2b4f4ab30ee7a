import { explainNetworkError, mirrorUrl, probe } from './http.js';

/** What a Pyrsia node's transparency log says about an image. */
export type InspectLog =
  | { entries: unknown[]; summary: string }
  | { error: string; summary: string };

/**
 * Asks a Pyrsia node's transparency log about an image (`POST /inspect/docker`, what `pyrsia inspect-log docker`
 * does). An empty array means the network never recorded the image: worth reporting, not a failed image check.
 */
export async function inspectPyrsiaLog(mirror: string, image: string, timeoutMs: number): Promise<InspectLog> {
  const url = mirrorUrl(mirror, '/inspect/docker');
  try {
    const res = await probe(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image }),
    }, timeoutMs);
    const value: unknown = res.status === 200 ? JSON.parse(res.body.toString('utf8')) : undefined;
    if (!Array.isArray(value)) {
      const error = `POST /inspect/docker answered ${res.status} without a JSON array`;
      return { error, summary: `transparency log not readable: ${error}` };
    }
    const summary = value.length === 0
      ? `${image} is not in the Pyrsia transparency log`
      : `${image} has ${value.length} transparency-log ${value.length === 1 ? 'entry' : 'entries'}`;
    return { entries: value, summary };
  } catch (error) {
    const why = error instanceof SyntaxError ? 'POST /inspect/docker sent invalid JSON' : explainNetworkError(error, url, timeoutMs).why;
    return { error: why, summary: `transparency log not readable: ${why}` };
  }
}
