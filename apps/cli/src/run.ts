import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execute, settings } from '@oclif/core';
import { quietOnClosedPipe } from './pipes.js';

/**
 * Runs the CLI. The only entry bin/run.js loads, so that a bundled build shares one copy of @oclif/core
 * between the runner and the commands.
 *
 * `dir` is bin/run.js's URL; the package root is the folder above it. What oclif would look up on every start
 * is handed to it instead:
 * - the package.json, read once here, so oclif need not search the folders above for it;
 * - no user or dev plugins: dockmirror runs as root, and oclif would otherwise load any plugin listed in a
 *   `package.json` under the user's data folder (`$XDG_DATA_HOME/dockmirror`), code root must never run;
 * - the core plugins (autocomplete) only when the command may be theirs: a command of dockmirror's own
 *   (from the manifest) needs none of them, and loading one costs a package.json, a manifest and minimatch.
 */
export async function run(dir: string, argv: string[] = process.argv.slice(2)): Promise<void> {
  quietOnClosedPipe();
  // Always run the built commands: never look for TypeScript sources, even when NODE_ENV is test or development.
  settings.enableAutoTranspile = false;
  const root = path.dirname(path.dirname(fileURLToPath(dir)));
  const pjson = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { oclif: { plugins?: string[] } };
  if (ownCommand(root, argv[0])) delete pjson.oclif.plugins;
  await execute({ args: argv, loadOptions: { root, pjson: pjson as never, userPlugins: false, devPlugins: false } });
}

/**
 * Whether `word` (the first argument) starts one of dockmirror's own commands or topics, as the manifest lists
 * them. Anything else (no argument, a flag such as --help, another plugin's command, a typo that oclif answers
 * with suggestions) gets the full set of plugins. A manifest that cannot be read also means the full set.
 */
export function ownCommand(root: string, word: string | undefined): boolean {
  if (word === undefined || word.startsWith('-')) return false;
  try {
    const manifest = JSON.parse(readFileSync(path.join(root, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, { aliases?: string[] }>;
    };
    return Object.entries(manifest.commands).some(([id, command]) =>
      [id, ...(command.aliases ?? [])].some((name) => name.split(/[: ]/)[0] === word),
    );
  } catch {
    return false;
  }
}
