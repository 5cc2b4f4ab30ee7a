// examples/library.mjs, run as a reader of the README would run it, against a real docker-registry on loopback:
// plain JavaScript importing the built @dockmirror/core adds the mirror to a temp daemon.json, lists it, verifies
// it (the registry API check passes; no daemon reads the file, so the live check fails) and rolls the file back
// to its exact bytes. Needs the build (`npm run build`) and Debian's docker-registry.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, NO_DAEMON } from '../support/hermetic.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const example = path.join(repoRoot, 'examples', 'library.mjs');

let registry: TestRegistry | undefined;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(() => registry?.stop());

function runExample(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = childEnv(process.env.HOME!, { DOCKER_HOST: NO_DAEMON });
  return new Promise((resolve) => {
    execFile(process.execPath, [example, ...args], { cwd: repoRoot, env }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

describe('examples/library.mjs', () => {
  it('adds, lists, verifies and rolls back on a temp file', async () => {
    const run = await runExample([registry!.url]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const host = registry!.url.slice('http://'.length);
    expect(run.stdout).toMatch(new RegExp(`^added ${registry!.url.replaceAll('.', '\\.')}: changed true, backup \\d{8}T\\d+Z-[0-9a-f]{6}$`, 'm'));
    expect(run.stdout).toContain(`mirrors: ${registry!.url}; insecure registries: ${host}\n`);
    expect(run.stdout).toMatch(/^verify config: ok, /m);
    expect(run.stdout).toMatch(/^verify api: ok, /m);
    expect(run.stdout).toMatch(/^verify live: failed, /m);
    expect(run.stdout).toMatch(/rolled back: the same bytes as before\n$/);
  });

  it('a bad mirror is a DockmirrorError it reports with its code, exit 2', async () => {
    const run = await runExample(['ftp://mirror.example']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^INVALID_MIRROR: /);
  });
});
