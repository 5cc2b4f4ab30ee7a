/**
 * The programs the real-engine tests run, and what to install when one is missing. A missing program fails the
 * test file that needs it with that message (counted as failed by .ci/run), never a skip.
 */
import { statSync } from 'node:fs';
import path from 'node:path';

/** Debian packages, by program: what `apt-get install` brings each one. */
export const INSTALL = {
  dockerd: 'docker.io',
  containerd: 'containerd',
  'docker-registry': 'docker-registry',
  curl: 'curl',
  setsid: 'util-linux',
  ldd: 'libc-bin',
  tar: 'tar',
} as const;

/** The full path of `program` on PATH (or `program` itself when it is a path), or undefined. */
export function findProgram(program: string, pathVariable = process.env.PATH ?? ''): string | undefined {
  const candidates = program.includes('/') ? [program] : pathVariable.split(':').filter(Boolean).map((dir) => path.join(dir, program));
  for (const candidate of candidates) {
    // A file with an execute bit: access(X_OK) says yes to root for any file at all.
    const info = statSync(candidate, { throwIfNoEntry: false });
    if (info?.isFile() && (info.mode & 0o111) !== 0) return candidate;
  }
  return undefined;
}

/**
 * Throws one error naming every program in `programs` that is missing and the package that brings it, e.g.
 * "dockerd not found on PATH: apt-get install docker.io".
 */
export function requirePrograms(what: string, programs: (keyof typeof INSTALL | { program: string; install: string })[]): void {
  const missing = programs
    .map((p) => (typeof p === 'string' ? { program: p, install: INSTALL[p] } : p))
    .filter((p) => findProgram(p.program) === undefined);
  if (missing.length === 0) return;
  const names = missing.map((p) => p.program).join(', ');
  const packages = [...new Set(missing.map((p) => p.install))].join(' ');
  throw new Error(`${what} cannot start: ${names} not found${names.includes('/') ? '' : ' on PATH'}: apt-get install ${packages}`);
}
