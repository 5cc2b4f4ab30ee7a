/**
 * Registry flags set outside daemon.json. dockerd refuses to start when a key is both a flag and in the file,
 * and only logs the conflict on reload, so dockmirror must find these before it writes.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readBounded } from '../support/bounded-read.js';
import { flagValues } from './dockerd-process.js';
import type { DaemonSetup } from './setup.js';

/** A registry setting given to dockerd as a flag. */
export interface FlagConflict {
  /** The dockerd flag. */
  flag: '--registry-mirror' | '--insecure-registry';
  /** The daemon.json key it clashes with. */
  key: 'registry-mirrors' | 'insecure-registries';
  /** The values the flag sets. */
  values: string[];
  /** Where the flag is set: a unit file, `/etc/default/docker (DOCKER_OPTS)`, or `dockerd command line (pid N)`. */
  source: string;
}

/** Options of {@link findFlagConflicts}. */
export interface FindFlagConflictsOptions {
  /** Output of `systemctl cat docker` (or `--user` for rootless); default runs it without a shell. */
  systemctlCat?: () => Promise<string>;
  /** Root that `/etc/default/docker` and `/etc/conf.d/docker` are read under; default `/`. */
  rootDir?: string;
}

const FLAGS = [
  { flag: '--registry-mirror', key: 'registry-mirrors' },
  { flag: '--insecure-registry', key: 'insecure-registries' },
] as const;

/** Registry flags in one argv, attributed to `source`. */
export function registryFlagsIn(args: readonly string[], source: string): FlagConflict[] {
  return FLAGS.flatMap(({ flag, key }) => {
    const values = flagValues(args, flag);
    return values.length > 0 ? [{ flag, key, values, source }] : [];
  });
}

/**
 * Every registry flag that would clash with daemon.json: in the unit files (systemd), the init defaults file,
 * and the running dockerd's own command line (only a trusted one: detectSetup passes over a dockerd
 * another user started). A value already attributed to a file is not repeated for the
 * command line, since the file is what the user has to edit.
 */
export async function findFlagConflicts(setup: DaemonSetup, options: FindFlagConflictsOptions = {}): Promise<FlagConflict[]> {
  const rootDir = options.rootDir ?? '/';
  const found: FlagConflict[] = [];
  let execStart: ExecStart | undefined;
  if (setup.kind === 'systemd' || setup.kind === 'rootless') {
    const user = setup.kind === 'rootless' ? ['--user'] : [];
    const cat = options.systemctlCat ?? (() => runSystemctlCat(user));
    execStart = parseSystemctlCat(await cat().catch(() => ''));
    if (execStart) found.push(...registryFlagsIn(execStart.args, execStart.source));
  }
  const optsFile =
    setup.kind === 'sysvinit' || (setup.kind === 'systemd' && execStart?.args.some((a) => a.includes('DOCKER_OPTS')))
      ? '/etc/default/docker'
      : setup.kind === 'openrc'
        ? '/etc/conf.d/docker'
        : undefined;
  if (optsFile) {
    const opts = await readDockerOpts(join(rootDir, optsFile));
    if (opts) found.push(...registryFlagsIn(opts, `${optsFile} (DOCKER_OPTS)`));
  }
  if (setup.cmdline) {
    for (const conflict of registryFlagsIn(setup.cmdline.slice(1), `dockerd command line (pid ${setup.pid ?? '?'})`)) {
      const known = found.some((f) => f.flag === conflict.flag && f.values.join('\n') === conflict.values.join('\n'));
      if (!known) found.push(conflict);
    }
  }
  return found;
}

/** The effective `ExecStart=` of a unit and the file it came from. */
export interface ExecStart {
  /** The unit or drop-in file path (from the `# /path` header). */
  source: string;
  /** The command split into words; `$VAR` references are left as they are. */
  args: string[];
}

/**
 * Parse `systemctl cat` output: files start with `# /path`; an empty `ExecStart=` resets the list (the
 * drop-in idiom), so the last non-empty one after the last reset is what systemd runs.
 */
export function parseSystemctlCat(output: string): ExecStart | undefined {
  let source = 'docker.service';
  let current: ExecStart | undefined;
  const lines = output.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  for (const line of lines) {
    const header = /^# (\/\S+)\s*$/.exec(line);
    if (header?.[1]) {
      source = header[1];
      continue;
    }
    const exec = /^\s*ExecStart\s*=\s*(.*)$/.exec(line);
    if (!exec) continue;
    const command = (exec[1] ?? '').trim().replace(/^[-@+!:]+/, '');
    current = command === '' ? undefined : { source, args: splitWords(command) };
  }
  return current;
}

/** Split a command line the way systemd and sh do for the simple cases: whitespace, single and double quotes. */
export function splitWords(command: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s"']+)/g;
  let word = '';
  let last = -1;
  for (let m = re.exec(command); m; m = re.exec(command)) {
    // Adjacent pieces (--flag="a b") belong to one word.
    if (last !== -1 && m.index !== last) {
      words.push(word);
      word = '';
    }
    word += m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3] ?? '');
    last = re.lastIndex;
  }
  if (last !== -1) words.push(word);
  return words;
}

/** `DOCKER_OPTS="..."` from a shell defaults file, ignoring commented lines. */
async function readDockerOpts(file: string): Promise<string[] | undefined> {
  const text = await readBounded(file, { maxBytes: 1024 * 1024 }).then(
    (bytes) => bytes?.toString('utf8'),
    () => undefined,
  );
  if (text === undefined) return undefined;
  let value: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?DOCKER_OPTS=(.*)$/.exec(line);
    if (m) value = splitWords(m[1] ?? '').join(' ');
  }
  return value === undefined ? undefined : splitWords(value);
}

async function runSystemctlCat(extra: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('systemctl', [...extra, 'cat', 'docker'], { timeout: 10_000 });
  return stdout;
}
