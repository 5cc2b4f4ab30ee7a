// Bundles the CLI for start-up speed: one ESM entry per oclif command plus the runner, with @oclif/core,
// @dockmirror/core and the pure-JS dependencies in shared chunks, so a start loads a handful of files
// instead of ~250. Commands stay real oclif command modules under dist/commands, found through the manifest.
// Type checking stays with tsc; this only transpiles and links.
//
// The fast path's body (src/fast-run.ts, what the hot commands run) is a second build of its own: dist/fast-run.js,
// one script with all of core, which src/fast-script.ts compiles with a code cache made after a run.
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';
import { bundleEntries } from './entries.mjs';

const cliDir = fileURLToPath(new URL('..', import.meta.url));
const input = await bundleEntries(cliDir);

/**
 * Node's built-in modules reached through `require` instead of `import`. Imported, a built-in gets an ES module
 * facade that reads every one of its exports, and reading them loads what they lazily stand for: `node:crypto`
 * loads Web Crypto (about 10 ms here), `node:process`, `node:fs` and `node:util` 5-7 ms each, `node:http` fetch's
 * undici. Required, a built-in costs only what the code touches. Each `import ... from "node:x"` rolldown emits
 * becomes a `const` of the same names at the same place (imports are already at the top of a chunk, and a
 * built-in has no cycle with our code). A statement this does not recognise fails the build, never slips through.
 */
const BUILTIN_IMPORT = /^import ([^;]*?) from "(node:[a-z_/]+)";$/gm;

/**
 * Built-ins whose functions are loaded at their first call rather than when a chunk loads: `node:crypto` costs
 * 7-9 ms here even required, and `mirror list`, `status` or `--version` never hash; `node:child_process` 3 ms,
 * for a program dockmirror starts only now and then (systemctl, a preset's command). Only plain functions are
 * listed (no classes, no constants), so a stand-in that loads the module and calls through behaves the same, and
 * it hands `util.promisify` the real function's own promise form (execFile's resolves to { stdout, stderr }).
 */
const LAZY_FUNCTIONS = {
  'node:crypto': new Set(['createHash', 'randomBytes', 'randomInt', 'randomUUID']),
  'node:child_process': new Set(['execFile', 'spawn']),
};

function requireBuiltins() {
  return {
    name: 'require-builtins',
    renderChunk(code) {
      let count = 0;
      let lazy = false;
      const rewritten = code.replace(BUILTIN_IMPORT, (statement, clause, id) => {
        count += 1;
        const binding = /^(?:([\w$]+)|\* as ([\w$]+))?(?:,?\s*\{([^}]*)\})?$/.exec(clause.trim());
        const [, whole, namespace, named] = binding ?? [];
        if (!binding || (!whole && !namespace && named === undefined)) throw new Error(`require-builtins: cannot rewrite ${statement}`);
        const fields = (named ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((s) => /^([\w$]+)(?: as ([\w$]+))?$/.exec(s) ?? s);
        if (fields.some((f) => typeof f === 'string')) throw new Error(`require-builtins: cannot rewrite ${statement}`);
        const lazyNames = LAZY_FUNCTIONS[id];
        // A statement that takes anything else from the module (oclif's `import childProcess from ...`) requires it
        // as usual; test/startup-cli.test.ts checks that the starts which must not load them do not.
        if (lazyNames && !whole && !namespace && fields.every(([, name]) => lazyNames.has(name))) {
          lazy = true;
          return fields.map(([, name, local]) => `const ${local ?? name} = __lazyFunction(${JSON.stringify(id)}, ${JSON.stringify(name)});`).join('\n');
        }
        const lines = [];
        const target = whole ?? namespace;
        if (target) lines.push(`const ${target} = __builtin(${JSON.stringify(id)});`);
        if (fields.length > 0) {
          const pattern = fields.map(([, name, local]) => (local ? `${name}: ${local}` : name)).join(', ');
          lines.push(`const { ${pattern} } = ${target ?? `__builtin(${JSON.stringify(id)})`};`);
        }
        return lines.join('\n');
      });
      if (count === 0) return null;
      // process.getBuiltinModule (Node 22.3+) needs no import at all; older 22.x fall back to createRequire.
      let header = 'import { createRequire as __createRequire } from "node:module";\nconst __builtin = globalThis.process.getBuiltinModule ?? __createRequire(import.meta.url);\n';
      if (lazy) {
        header +=
          'const __lazyFunction = (id, name) => {\n' +
          '  let real;\n' +
          '  const load = () => (real ??= __builtin(id)[name]);\n' +
          '  const standIn = function (...args) { return load().apply(this, args); };\n' +
          '  const custom = Symbol.for("nodejs.util.promisify.custom");\n' +
          '  return Object.defineProperty(standIn, custom, { get: () => load()[custom] });\n' +
          '};\n';
      }
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

/**
 * Small patches to oclif's start-up, each the same behaviour for less work. A new oclif without the line patched
 * fails the build, so each patch is looked at again rather than silently dropped.
 */
const OCLIF_PATCHES = [
  {
    // The first localeCompare builds an ICU collator: 20-35 ms here. Command ids are lowercase ASCII words and
    // colons, which sort the same by code point.
    file: 'lib/config/plugin.js',
    from: '.sort((a, b) => a.id.localeCompare(b.id));',
    to: '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));',
  },
  {
    // Command discovery by glob is for plugins without a manifest; dockmirror and its plugin ship one.
    file: 'lib/config/plugin.js',
    from: 'const tinyglobby_1 = require("tinyglobby");',
    to: 'const tinyglobby_1 = { get glob() { return require("tinyglobby").glob; } };',
  },
  {
    // ejs renders help and `<%= config.bin %>` templates: only when one is shown.
    file: 'lib/config/config.js',
    from: 'const ejs_1 = __importDefault(require("ejs"));',
    to: 'const ejs_1 = { get default() { return __importDefault(require("ejs")).default; } };',
  },
  {
    file: 'lib/help/util.js',
    from: 'const ejs_1 = __importDefault(require("ejs"));',
    to: 'const ejs_1 = { get default() { return __importDefault(require("ejs")).default; } };',
  },
  {
    // oclif checks its own package.json's engines on load; bundled, that file is not beside it, so the check always
    // ends in its catch. Reading the file first ends it there before semver (all of it) is loaded for nothing.
    file: 'lib/index.js',
    from: "const semver = require('semver');\n        const root = path.join(__dirname, '..');\n        const pjson = require(path.join(root, 'package.json'));",
    to: "const root = path.join(__dirname, '..');\n        const pjson = require(path.join(root, 'package.json'));\n        const semver = require('semver');",
  },
];

function patchOclif() {
  return {
    name: 'patch-oclif',
    transform(code, id) {
      const file = id.replaceAll('\\', '/');
      const patches = OCLIF_PATCHES.filter((p) => file.endsWith(`/@oclif/core/${p.file}`));
      if (patches.length === 0) return null;
      for (const patch of patches) {
        if (!code.includes(patch.from)) throw new Error(`patch-oclif: ${id} no longer has ${JSON.stringify(patch.from)}`);
        code = code.replace(patch.from, patch.to);
      }
      return { code, map: null };
    },
    buildEnd() {
      // Every patch must have met its file: a moved file would otherwise skip its patch without a word.
      const met = new Set();
      for (const id of this.getModuleIds()) {
        const file = id.replaceAll('\\', '/');
        for (const patch of OCLIF_PATCHES) if (file.endsWith(`/@oclif/core/${patch.file}`)) met.add(patch);
      }
      const missed = OCLIF_PATCHES.filter((p) => !met.has(p));
      if (missed.length > 0) throw new Error(`patch-oclif: no module ${missed.map((p) => p.file).join(', ')} in the bundle`);
    },
  };
}

/** oclif's ux, the one part of oclif the fast path may load (a spinner on a terminal): a main-build entry of its own. */
const UX = '@oclif/core/ux';

/** The fast-run build's one chunk ends by exporting this, and nothing else. */
const FAST_RUN_EXPORT = /\nexport \{ runPlan \};\s*$/;

/**
 * The fast-run build as one script rather than a module, for src/fast-script.ts to compile with a V8 code cache
 * of its own: `(function (__import, __importMeta) { ...; return { runPlan }; })`. Only the module forms the
 * chunk has are rewritten: the createRequire import require-builtins adds, `import.meta`, the dynamic import of
 * the main build's oclif ux, the export. Any other import or export fails the build, never slips through.
 */
function asScript() {
  return {
    name: 'as-script',
    // After rendering, when nothing is left to drop the function expression as unused (rolldown's dead-code pass
    // would, from renderChunk's output).
    generateBundle(_options, bundle) {
      const chunks = Object.values(bundle).filter((file) => file.type === 'chunk');
      if (chunks.length !== 1) throw new Error(`as-script: the fast-run build made ${chunks.length} chunks, not one`);
      const [chunk] = chunks;
      chunk.code = scriptOf(chunk.code);
    },
  };
}

/** The body of {@link asScript}: the fast-run chunk's module text as a script's. */
function scriptOf(code) {
  const header = 'import { createRequire as __createRequire } from "node:module";\n';
  let body = code.startsWith(header) ? `const { createRequire: __createRequire } = process.getBuiltinModule("node:module");\n${code.slice(header.length)}` : code;
  body = body.replaceAll('import.meta', '__importMeta').replaceAll('import("./oclif-ux.js")', '__import("./oclif-ux.js")');
  if (!FAST_RUN_EXPORT.test(body)) throw new Error('as-script: the fast-run chunk no longer ends with `export { runPlan };`');
  body = body.replace(FAST_RUN_EXPORT, '\nreturn { runPlan };\n');
  const left = /^\s*(?:import|export)\b.*$/m.exec(body) ?? /\bimport\(.*$/m.exec(body);
  if (left) throw new Error(`as-script: cannot make a script of ${left[0].slice(0, 120)}`);
  return `(function (__import, __importMeta) {\n${body}})\n`;
}

/** The fast-run build takes oclif's ux from the main build's dist/oclif-ux.js rather than a copy of oclif. */
function uxFromMainBuild() {
  return { name: 'ux-from-main-build', resolveId: (source) => (source === UX ? { id: './oclif-ux.js', external: true } : null) };
}

/** The main build's entry for oclif's ux: its `ux` as a named export, as `import('@oclif/core/ux')` gives it. */
function uxEntry() {
  const id = '\0oclif-ux';
  return {
    name: 'ux-entry',
    resolveId: (source) => (source === id ? id : null),
    load: (module) => (module === id ? `export { ux } from ${JSON.stringify(UX)};` : null),
  };
}

/**
 * Output options both builds share. Every start reads, decodes and hashes each chunk it loads (the compile
 * cache is keyed by the source): comments are a third of core's chunk and only cost there, and a single
 * non-ASCII character makes V8 hold the whole chunk as a two-byte string. Stripped and escaped, `mirror add`
 * loads about 3 ms faster here; the TypeScript sources keep the comments.
 */
const commonOutput = { comments: false, charset: 'ascii' };

/** Options both builds share. */
const common = {
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
};

await rm(path.join(cliDir, 'dist'), { recursive: true, force: true });
await build({
  ...common,
  input: { ...input, 'oclif-ux': '\0oclif-ux' },
  plugins: [uxEntry(), lazyDebug(), patchOclif(), requireBuiltins()],
  output: {
    ...commonOutput,
    dir: path.join(cliDir, 'dist'),
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/[name]-[hash].js',
  },
});
await build({
  ...common,
  input: { 'fast-run': path.join(cliDir, 'src', 'fast-run.ts') },
  plugins: [requireBuiltins(), uxFromMainBuild(), asScript()],
  // One script with all of core and what it loads lazily (the prompts, `diff` for a dry run's diff, the TOML
  // reader of a Pyrsia node's config): rolldown wraps each of those so it runs only when first asked for, and an
  // unused function costs a start nothing once the code cache holds the script (src/fast-script.ts).
  onLog: (level, log, handler) => (log.code === 'INEFFECTIVE_DYNAMIC_IMPORT' ? undefined : handler(level, log)),
  output: {
    ...commonOutput,
    dir: path.join(cliDir, 'dist'),
    format: 'esm',
    entryFileNames: '[name].js',
    codeSplitting: false,
  },
});
