/** Docker CLI contexts on disk, for tests of where an endpoint comes from. */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes a docker CLI context the way `docker context create` stores it, under `configDir` (a DOCKER_CONFIG). */
export async function writeContext(configDir: string, name: string, host: string): Promise<void> {
  const dir = join(configDir, 'contexts', 'meta', createHash('sha256').update(name).digest('hex'));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'meta.json'), JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }));
}
