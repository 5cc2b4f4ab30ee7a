import { execute, settings } from '@oclif/core';

/**
 * Runs the CLI. The only entry bin/run.js loads, so that a bundled build shares one copy of @oclif/core
 * between the runner and the commands.
 */
export async function run(dir: string): Promise<void> {
  quietOnClosedPipe();
  // Always run the built commands: never look for TypeScript sources, even when NODE_ENV is test or development.
  settings.enableAutoTranspile = false;
  await execute({ dir });
}

/**
 * `dockmirror mirror list | head -1`: once the reader has gone, every further write fails with EPIPE. Nobody is
 * left to read the rest, so the run ends at once and quietly, with 0 as for any output cut short by its reader;
 * without this, the unhandled error left the top-level await pending and Node exited 13 with a warning.
 */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
}
