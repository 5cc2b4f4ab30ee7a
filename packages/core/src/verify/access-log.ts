import { BoundedReadError, readBounded } from '../support/bounded-read.js';
import type { ImageRef } from './image-ref.js';
import type { CounterReading } from './mirror-counters.js';

/** Mirror logs worth counting in stay well below this; a bigger one is refused rather than read whole. */
const MAX_LOG_BYTES = 32 * 1024 * 1024;

/**
 * Counts the successful manifest requests for one image in a registry's access log: distribution's
 * (`"GET /v2/library/alpine/manifests/3.16.2 HTTP/1.1" 200 …`) and a Pyrsia node's (`INFO pyrsia_registry > … "GET
 * … HTTP/1.1" 200 …`) share that form. Read before and after a pull, more lines mean the pull reached this
 * mirror. A query (containerd's `?ns=docker.io`) may follow the path. Only a count leaves this function: nothing
 * from the file is shown.
 */
export async function readAccessLogCount(file: string, image: ImageRef): Promise<CounterReading> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readBounded(file, { maxBytes: MAX_LOG_BYTES });
  } catch (error) {
    if (error instanceof BoundedReadError) return { error: error.message };
    return { error: `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
  }
  if (bytes === undefined) return { error: `${file} does not exist` };
  return { count: countManifestRequests(bytes.toString('utf8'), image) };
}

/** The access-log lines that record a 2xx manifest GET or HEAD of `image`. */
export function countManifestRequests(text: string, image: ImageRef): number {
  const path = `/v2/${image.repository}/manifests/${image.reference}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // containerd adds `?ns=<upstream>` to every request it sends a mirror.
  const line = new RegExp(`"(?:GET|HEAD) ${path}(?:\\?[^ "]*)? HTTP/[0-9.]+" 2\\d\\d\\b`);
  let count = 0;
  for (const l of text.split('\n')) if (line.test(l)) count++;
  return count;
}
