#!/usr/bin/env node
// Plain JavaScript any Node can parse: an older Node gets one line saying what to install, instead of a
// SyntaxError or ERR_MODULE_NOT_FOUND from the CLI's own code. The CLI is therefore loaded with import(), after
// the check (a static import would be linked, and could fail, before any line here ran).
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `dockmirror needs Node.js 22 or newer; this is ${process.version}. Install Node 24 (nvm install 24, or your ` +
      'distribution\'s nodejs 24 package) and run it with that node.\n',
  );
  process.exit(1);
}
// Node's on-disk compile cache makes every start after the first skip parsing most of the CLI's JavaScript. It is
// turned on before the CLI loads, and only in a folder proven to belong to this user (see src/compile-cache.ts):
// never Node's default under $TMPDIR, where another user could plant code for root to run.
const { enableOwnCompileCache } = await import('../dist/compile-cache.js');
enableOwnCompileCache();
// The hot commands (mirror add/remove/list, status) run without oclif when their argv is fully understood
// (src/fast.ts); anything else, or anything unsure, goes to oclif as before.
const { runFast } = await import('../dist/fast.js');
if (!(await runFast())) {
  const { run } = await import('../dist/run.js');
  await run(import.meta.url);
}
