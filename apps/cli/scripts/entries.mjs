// The bundle's entries: one per oclif command and hook (oclif finds each through the manifest and package.json)
// plus the runner, the fast path and compile-cache. Entry names become file names
// under dist/ and must be the same on every OS, so they are built with forward slashes: on Windows glob yields
// `src\commands\mirror\add.ts`, and a backslash in an entry name would make a file called `commands\mirror\add.js`
// (or a wrong folder) instead of dist/commands/mirror/add.js, which the oclif manifest names.
import { glob } from 'node:fs/promises';
import path from 'node:path';

/** `{ entryName: absolutePathOfSource }` for the CLI folder `cliDir`. */
export async function bundleEntries(cliDir) {
  // compile-cache is its own entry: bin/run.js loads it before anything else, to decide where the cache may live.
  // fast is the oclif-free path for the hot commands, tried before run (bin/run.js).
  const input = {
    run: path.join(cliDir, 'src', 'run.ts'),
    fast: path.join(cliDir, 'src', 'fast.ts'),
    'compile-cache': path.join(cliDir, 'src', 'compile-cache.ts'),
  };
  for await (const file of glob('src/{commands,hooks}/**/*.ts', { cwd: cliDir })) {
    const name = file.split(path.sep).join(path.posix.sep);
    input[name.slice('src/'.length, -'.ts'.length)] = path.join(cliDir, file);
  }
  return input;
}
