import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Hook } from '@oclif/core';
import { paint, toScreen } from '../output.js';

// The plugin's bash script offers the first word of every command line, one per command: `mirror` came four times
// (mirror add, list, remove, verify). Sorting them unique is the whole fix.
const TOP_LEVEL = "grep -Eo '^[a-zA-Z0-9_-]+')";
const TOP_LEVEL_UNIQUE = "grep -Eo '^[a-zA-Z0-9_-]+' | sort -u)";

/**
 * After `dockmirror autocomplete` (or the plugin's own cache refresh) has written the completion functions: the
 * bash one offers each top-level word once, and, when `dockmirror` is not on PATH (run from a clone through npx
 * or bin/run.js), a note says that completion, and the plugin's lines above, need it there.
 */
const hook: Hook.Postrun = async function (options) {
  const id = options.Command?.id;
  if (id !== 'autocomplete' && id !== 'autocomplete:create') return;
  const bin = options.config.bin;
  const bash = path.join(options.config.cacheDir, 'autocomplete', 'functions', 'bash', `${bin}.bash`);
  let script: string | undefined;
  try {
    script = readFileSync(bash, 'utf8');
  } catch {
    // No bash functions yet (another shell's refresh failed, or a plugin version without them): nothing to fix.
  }
  if (script?.includes(TOP_LEVEL)) writeFileSync(bash, script.replace(TOP_LEVEL, TOP_LEVEL_UNIQUE));
  if (id === 'autocomplete' && !onPath(bin)) {
    const note = `${bin} is not on your PATH, and completion only works for a command the shell finds there. From a clone: npm link -w dockmirror (or npm install -g on the packed tarballs), then run the lines above.`;
    process.stderr.write(`${toScreen(`${paint('yellow', '!', process.stderr)} ${note}`)}\n`);
  }
};

/** Whether the shell would find an executable `name` on PATH. */
function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export default hook;
