import { execute, settings } from '@oclif/core';

/**
 * Runs the CLI. The only entry bin/run.js loads, so that a bundled build shares one copy of @oclif/core
 * between the runner and the commands.
 */
export async function run(dir: string): Promise<void> {
  // Always run the built commands: never look for TypeScript sources, even when NODE_ENV is test or development.
  settings.enableAutoTranspile = false;
  await execute({ dir });
}
