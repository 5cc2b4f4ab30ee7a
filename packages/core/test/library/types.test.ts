// A TypeScript program using @dockmirror/core with full library checks (`skipLibCheck: false`, strict), in a
// folder that holds only what `npm install @dockmirror/core` brings (the package and its dependencies) plus
// @types/node. A public `.d.ts` that needs some dependency's separate types (as dockerode's once leaked) fails
// to compile here. Needs the build (`npm run build`).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const coreDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const repoRoot = path.resolve(coreDir, '..', '..');
const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

/** Every bare module a `.d.ts` reachable from dist/index.d.ts imports, with the file that imports it. */
async function publicTypeImports(): Promise<Map<string, string>> {
  const bare = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [path.join(coreDir, 'dist', 'index.d.ts')];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = await readFile(file, 'utf8');
    for (const [, spec] of text.matchAll(/(?:from\s+|import\(\s*)['"]([^'"]+)['"]/g)) {
      if (spec!.startsWith('.')) queue.push(path.resolve(path.dirname(file), spec!.replace(/\.js$/, '.d.ts')));
      else bare.set(spec!, path.relative(coreDir, file));
    }
  }
  return bare;
}

let consumer = '';
beforeAll(async () => {
  if (!existsSync(path.join(coreDir, 'dist', 'index.d.ts'))) throw new Error('Build first: npm run build');
  consumer = await mkdtemp(path.join(tmpdir(), 'dm-types-'));
  const modules = path.join(consumer, 'node_modules');
  // The package as it ships (package.json and dist), its runtime dependencies, and Node's types: nothing else.
  const pkg = JSON.parse(await readFile(path.join(coreDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  await mkdir(path.join(modules, '@dockmirror', 'core'), { recursive: true });
  await cp(path.join(coreDir, 'package.json'), path.join(modules, '@dockmirror', 'core', 'package.json'));
  await cp(path.join(coreDir, 'dist'), path.join(modules, '@dockmirror', 'core', 'dist'), { recursive: true });
  await mkdir(path.join(modules, '@types'));
  for (const dep of [...Object.keys(pkg.dependencies), '@types/node', 'undici-types']) {
    // A scoped dependency (@noble/hashes) needs its scope's folder first.
    await mkdir(path.dirname(path.join(modules, dep)), { recursive: true });
    await symlink(path.join(repoRoot, 'node_modules', dep), path.join(modules, dep));
  }
  await writeFile(
    path.join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'] },
      files: ['consumer.ts'],
    }),
  );
  await writeFile(path.join(consumer, 'package.json'), '{ "type": "module" }\n');
  await writeFile(
    path.join(consumer, 'consumer.ts'),
    `import * as core from '@dockmirror/core';
import { addMirror, listMirrors, rollback, verifyMirror, getStatus, runDoctor, DockmirrorError, type ChangeResult, type VerifyReport, type DockmirrorStatus } from '@dockmirror/core';
const added: ChangeResult = await addMirror({ mirror: 'gcr', configFile: '/tmp/daemon.json', apply: 'none', timeout: 5 });
const list = await listMirrors({ configFile: '/tmp/daemon.json', live: false });
const report: VerifyReport = await verifyMirror({ mirror: 'gcr', timeoutMs: 2000 });
const status: DockmirrorStatus = await getStatus();
await runDoctor();
await rollback({ configFile: '/tmp/daemon.json' });
const error: unknown = undefined;
if (error instanceof DockmirrorError) console.log(error.code, error.location?.line, error.hint);
console.log(added.changed, list.mirrors, report.ok, status.daemon, Object.keys(core).length);
`,
  );
}, 60_000);
afterAll(() => (consumer ? rm(consumer, { recursive: true, force: true }) : undefined));

describe('the public types', () => {
  it('import only node: modules and dependencies that ship their own types', async () => {
    const imports = await publicTypeImports();
    const deps = JSON.parse(await readFile(path.join(coreDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const [spec, from] of imports) {
      if (spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      expect(Object.keys(deps.dependencies), `${from} imports ${spec}`).toContain(name);
      const shipped = JSON.parse(await readFile(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { types?: string; typings?: string };
      expect(shipped.types ?? shipped.typings, `${name} (imported by ${from}) ships no types of its own`).toBeTruthy();
    }
  });

  it('type-check in a consumer with skipLibCheck: false and strict', async () => {
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [tsc, '-p', consumer], { cwd: consumer }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr }));
    });
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  }, 120_000);
});
