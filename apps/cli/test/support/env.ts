/**
 * The environment of every spawned dockmirror: the test process's own minus DOCKER_HOST, the docker context,
 * DOCKMIRROR_* and DEBUG, with no colour, and HOME, XDG_CONFIG_HOME and DOCKER_CONFIG in the temp folder of this
 * test file, so no run reads the host's `~/.docker/config.json` or `~/.config/dockmirror/presets.json`.
 */
import { childEnv } from '../../../../packages/core/test/support/hermetic.js';

/**
 * The temp home the runs of this test file share: the one the vitest setup file (hermetic-setup.ts) made for
 * this file and removes after it, so no run leaves a folder behind.
 */
export function cliHome(): string {
  const home = process.env.HOME;
  if (!home?.includes('dm-home-')) throw new Error('cliHome() needs the hermetic setup file (vitest.config.ts setupFiles)');
  return home;
}

/** The environment for a spawned dockmirror, with `extra` on top (which may name its own HOME). */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return childEnv(cliHome(), extra);
}
