// Bundles the CLI for start-up speed: one ESM entry per oclif command plus the runner, with @oclif/core,
// @dockmirror/core and the pure-JS dependencies in shared chunks, so a start loads a handful of files
// instead of ~250. Commands stay real oclif command modules under dist/commands, found through the manifest.
// Type checking stays with tsc; this only transpiles and links.
import { glob, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const cliDir = fileURLToPath(new URL('..', import.meta.url));
// compile-cache is its own entry: bin/run.js loads it before anything else, to decide where the cache may live.
const input = { run: path.join(cliDir, 'src/run.ts'), 'compile-cache': path.join(cliDir, 'src/compile-cache.ts') };
// Commands and hooks are found by oclif through the manifest and package.json, so each is an entry of its own.
for await (const file of glob('src/{commands,hooks}/**/*.ts', { cwd: cliDir })) {
  input[file.slice('src/'.length, -'.ts'.length)] = path.join(cliDir, file);
}

await rm(path.join(cliDir, 'dist'), { recursive: true, force: true });
await build({
  input,
  cwd: cliDir,
  platform: 'node',
  // typescript is only probed for by oclif in development and must not be bundled.
  external: [/^typescript(\/|$)/],
  // Prefer a package's ESM build: jsonc-parser's `main` is a UMD wrapper whose requires a bundler cannot follow.
  resolve: { mainFields: ['module', 'main'] },
  // CommonJS dependencies bundled into ESM chunks may still name __filename/__dirname; give them the chunk's own
  // path.
  transform: { define: { __filename: 'import.meta.filename', __dirname: 'import.meta.dirname' } },
  logLevel: 'warn',
  output: {
    dir: path.join(cliDir, 'dist'),
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/[name]-[hash].js',
  },
});
