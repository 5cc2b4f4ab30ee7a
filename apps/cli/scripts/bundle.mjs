// Bundles the CLI for start-up speed: one ESM entry per oclif command plus the runner, with @oclif/core,
// @dockmirror/core and the pure-JS dependencies in shared chunks, so a start loads a handful of files
// instead of ~250. Commands stay real oclif command modules under dist/commands, found through the manifest.
// Type checking stays with tsc; this only transpiles and links.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';
import { bundleEntries } from './entries.mjs';

const cliDir = fileURLToPath(new URL('..', import.meta.url));
const input = await bundleEntries(cliDir);

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
