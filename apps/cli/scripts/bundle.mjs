// Bundles the CLI for start-up speed: one ESM entry per oclif command plus the runner, with @oclif/core,
// @dockmirror/core and the pure-JS dependencies in shared chunks, so a start loads a handful of files
// instead of ~250. Commands stay real oclif command modules under dist/commands, found through the manifest.
// Type checking stays with tsc; this only transpiles and links.
import { glob, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const cliDir = fileURLToPath(new URL('..', import.meta.url));
// compile-cache is its own entry: bin/run.js loads it before anything else, to decide where the cache may live.
const input = { run: path.join(cliDir, 'src/run.ts'), 'compile-cache': path.join(cliDir, 'src/compile-cache.ts') };
for await (const file of glob('src/commands/**/*.ts', { cwd: cliDir })) {
  input[file.slice('src/'.length, -'.ts'.length)] = path.join(cliDir, file);
}

/**
 * Node's built-in modules reached through `require` instead of `import`. Imported, a built-in gets an ES module
 * facade that reads every one of its exports, and reading them loads what they lazily stand for: `node:crypto`
 * loads Web Crypto (about 10 ms here), `node:process`, `node:fs` and `node:util` 5-7 ms each, `node:http` fetch's
 * undici. Required, a built-in costs only what the code touches. Each `import ... from "node:x"` rolldown emits
 * becomes a `const` of the same names at the same place (imports are already at the top of a chunk, and a
 * built-in has no cycle with our code). A statement this does not recognise fails the build, never slips through.
 */
const BUILTIN_IMPORT = /^import ([^;]*?) from "(node:[a-z_/]+)";$/gm;
function requireBuiltins() {
  return {
    name: 'require-builtins',
    renderChunk(code) {
      let count = 0;
      const rewritten = code.replace(BUILTIN_IMPORT, (statement, clause, id) => {
        count += 1;
        const binding = /^(?:([\w$]+)|\* as ([\w$]+))?(?:,?\s*\{([^}]*)\})?$/.exec(clause.trim());
        const [, whole, namespace, named] = binding ?? [];
        if (!binding || (!whole && !namespace && named === undefined)) throw new Error(`require-builtins: cannot rewrite ${statement}`);
        const lines = [];
        const target = whole ?? namespace;
        if (target) lines.push(`const ${target} = __builtin(${JSON.stringify(id)});`);
        if (named !== undefined) {
          const fields = named.split(',').map((s) => s.trim()).filter(Boolean).map((s) => s.replace(/^([\w$]+) as ([\w$]+)$/, '$1: $2'));
          lines.push(`const { ${fields.join(', ')} } = ${target ?? `__builtin(${JSON.stringify(id)})`};`);
        }
        return lines.join('\n');
      });
      if (count === 0) return null;
      // process.getBuiltinModule (Node 22.3+) needs no import at all; older 22.x fall back to createRequire.
      const header = 'import { createRequire as __createRequire } from "node:module";\nconst __builtin = globalThis.process.getBuiltinModule ?? __createRequire(import.meta.url);\n';
      return { code: header + rewritten, map: null };
    },
  };
}

/**
 * oclif's logger requires `debug` at load, and `debug` loads supports-color and reads the environment for its
 * options: several ms of every start for output that appears only with DEBUG set. The bundle's `debug` is a
 * stand-in that loads the real one (bundled, evaluated only then) when DEBUG is set, and otherwise hands out
 * loggers that are off, as the real one does for a namespace DEBUG does not name.
 */
function lazyDebug() {
  const real = createRequire(path.join(cliDir, 'package.json')).resolve('debug', {
    paths: [path.dirname(createRequire(path.join(cliDir, 'package.json')).resolve('@oclif/core/package.json'))],
  });
  const id = '\0lazy-debug';
  return {
    name: 'lazy-debug',
    resolveId: (source) => (source === 'debug' ? id : null),
    load: (module) =>
      module === id
        ? `if (process.env.DEBUG) module.exports = require(${JSON.stringify(real)});
else {
  const off = (namespace) => Object.assign(() => {}, { enabled: false, namespace, extend: (sub, delimiter = ':') => off(namespace + delimiter + sub), destroy: () => false, log: () => {} });
  module.exports = Object.assign(off, { enable() {}, disable: () => '', enabled: () => false, names: [], skips: [], formatters: {} });
}`
        : null,
  };
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
  plugins: [lazyDebug(), requireBuiltins()],
  logLevel: 'warn',
  output: {
    dir: path.join(cliDir, 'dist'),
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/[name]-[hash].js',
  },
});
