/**
 * Finding the config.toml a running containerd was started with, from /proc. As for dockerd
 * (`daemon/dockerd-process.ts`), any user can start a process called `containerd` with any `--config`, so only a
 * process whose four uids are root's (or the caller's own) may name a file dockmirror then edits as root.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { processUids, readSmall, trustedUids, untrustedUids } from '../../daemon/socket-proof.js';
import { readCmdline } from '../../daemon/dockerd-process.js';

/** A containerd seen in /proc. */
export interface ContainerdProcess {
  /** Its pid. */
  pid: number;
  /** The config file it was started with (absolute), if it was given one. */
  configFile?: string;
}

/** What a /proc scan for containerd found. */
export interface ContainerdScan {
  /** The trusted containerd with the lowest pid, if any. */
  process?: ContainerdProcess;
  /** containerd processes passed over, and why (another user's, or dockerd's own managed one). */
  ignored: { pid: number; reason: string }[];
}

/**
 * Values of a Go `flag` package flag (containerd's CLI): `-name v`, `-name=v`, `--name v`, `--name=v`; a
 * one-letter alias the same way, never glued to its value. The last one wins, as in Go.
 */
export function goFlagValue(args: readonly string[], names: readonly string[]): string | undefined {
  let value: string | undefined;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') break;
    for (const name of names) {
      for (const dashes of ['-', '--']) {
        const flag = dashes + name;
        if (arg === flag && i + 1 < args.length) value = args[++i];
        else if (arg.startsWith(`${flag}=`)) value = arg.slice(flag.length + 1);
      }
    }
  }
  return value;
}

/** dockerd's own containerd keeps a config it rewrites at every start: editing it would not last. */
const DOCKER_MANAGED = /^\/(var\/)?run\/docker\//;

/** Scans `procRoot` for containerd processes and returns the trusted one (lowest pid) with its `--config`/`-c`. */
export function scanContainerd(procRoot = '/proc', callerUid = process.getuid?.() ?? 0): ContainerdScan {
  const ignored: ContainerdScan['ignored'] = [];
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return { ignored };
  }
  const trusted = trustedUids(callerUid);
  for (const pid of entries.filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b)) {
    // The head first, and the uids before the rest of an argv that another user may have made megabytes long.
    const head = readSmall(join(procRoot, String(pid), 'cmdline'), 4096)?.split('\0');
    if (head?.[0] === undefined || basename(head[0]) !== 'containerd') continue;
    const foreign = untrustedUids(processUids(procRoot, pid), trusted);
    if (foreign !== undefined) {
      ignored.push({ pid, reason: foreign });
      continue;
    }
    const argv = readCmdline(procRoot, pid);
    if (!argv) continue;
    const given = goFlagValue(argv, ['config', 'c']);
    if (given === undefined) return { process: { pid }, ignored };
    let configFile = given;
    if (!posix.isAbsolute(given)) {
      const cwd = readLink(join(procRoot, String(pid), 'cwd'));
      if (cwd === undefined) {
        ignored.push({ pid, reason: `its --config ${given} is relative and its working folder cannot be read` });
        continue;
      }
      configFile = posix.resolve(cwd, given);
    }
    if (DOCKER_MANAGED.test(configFile) || parentIsDockerd(procRoot, pid)) {
      ignored.push({ pid, reason: 'it is the containerd dockerd runs for itself, whose config dockerd rewrites at every start' });
      continue;
    }
    return { process: { pid, configFile }, ignored };
  }
  return { ignored };
}

/** Whether the parent of `pid` is a dockerd: with `--exec-root`, its managed containerd's config sits anywhere. */
function parentIsDockerd(procRoot: string, pid: number): boolean {
  // The parent pid is the second field after the command name, which may itself hold spaces and parentheses.
  const stat = readSmall(join(procRoot, String(pid), 'stat'), 4096) ?? '';
  const ppid = /^\S+\s+(\d+)/.exec(stat.slice(stat.lastIndexOf(')') + 1).trim())?.[1];
  if (ppid === undefined) return false;
  const argv0 = readSmall(join(procRoot, ppid, 'cmdline'), 4096)?.split('\0')[0];
  return argv0 !== undefined && basename(argv0) === 'dockerd';
}

function readLink(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}
