/**
 * The environment of every spawned dockmirror: the test process's own minus DOCKER_HOST, the docker context,
 * DOCKMIRROR_* and DEBUG, with no colour, and HOME, XDG_CONFIG_HOME and DOCKER_CONFIG in a temp folder of this
 * test file, so no run reads the host's `~/.docker/config.json` or `~/.config/dockmirror/presets.json`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { childEnv } from '../../../../packages/core/test/support/hermetic.js';

let home: string | undefined;

/** The temp home the runs of this test file share (made on first use, removed when the worker exits). */
export function cliHome(): string {
  if (!home) {
    const made = mkdtempSync(path.join(tmpdir(), 'dm-cli-home-'));
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
    home = made;
  }
  return home;
}

/** The environment for a spawned dockmirror, with `extra` on top (which may name its own HOME). */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return childEnv(cliHome(), extra);
}
