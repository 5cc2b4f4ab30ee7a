/**
 * The one way a failed command is reported, for the oclif classes (src/base.ts) and the fast path alike: a
 * {@link DockmirrorError} prints what happened, the file and line, and what to do next, and gives its documented
 * exit code. Anything else is a bug: one line and exit 1, with the stack only when `DEBUG` is set.
 */
import os from 'node:os';
import path from 'node:path';
import { DockmirrorError } from '@dockmirror/core';
import type { CommandIo } from './command-io.js';
import { EXIT_CODES } from './exit-codes.js';
import { diffLines, paint } from './output.js';

/** Prints `error` through `io` (JSON or lines on stderr) and returns the exit code to end with. */
export function reportFailure(error: Error, io: Pick<CommandIo, 'json' | 'tell' | 'logJson'>): number {
  const known =
    error instanceof DockmirrorError
      ? error
      : new DockmirrorError('UNEXPECTED', `Unexpected error: ${error.message}`, {
          cause: error,
          hint: 'This is a bug in dockmirror. Run again with DEBUG=1 for details and report it.',
        });
  if (io.json) {
    io.logJson({ error: known.toJSON() });
  } else {
    io.tell(`${paint('red', '✗', process.stderr)} ${known.message}`);
    const diff = known.details?.diff;
    if (typeof diff === 'string' && diff) for (const line of diffLines(diff)) io.tell(line);
    // Root fixes a permission error on a system file; a file in the home folder (rootless, Desktop, presets)
    // belongs to the user, and sudo would only make it root's.
    const ownFile = known.location?.file.startsWith(os.homedir() + path.sep) ?? false;
    // A Docker socket is another matter: its hint (the docker group) is the fix, sudo only one way round it.
    const socket = typeof known.details?.socket === 'string';
    // Windows has no sudo (core's hint says to use an elevated prompt), and a busy file needs no root at all.
    const rootFixes = process.platform !== 'win32' && !['EROFS', 'EBUSY'].includes(String(known.details?.errno));
    const hint = known.code === 'PERMISSION' && rootFixes && !ownFile && !socket ? sudoHint() : known.hint;
    if (hint) io.tell(`  ${paint('dim', '→', process.stderr)} ${hint}`);
    if (process.env.DEBUG && error.stack) for (const line of error.stack.split('\n')) io.tell(line);
  }
  return EXIT_CODES[known.code];
}

/** The exact command line to run again as root, quoted for a POSIX shell. */
function sudoHint(): string {
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);
  return `Run it again as root: sudo dockmirror ${process.argv.slice(2).map(quote).join(' ')}`;
}
