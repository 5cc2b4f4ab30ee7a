/**
 * Which running dockerd reads a given daemon.json. The rule of every change is "the daemon that reads this file
 * is the one to tell": a file edited while its daemon runs but is not told drifts from the live config until
 * someone reloads, and the next restart surprises them. Only a trusted process (root's, or the caller's own)
 * is believed, and the socket it names is used only once the kernel shows that very process holding it.
 */
import { readlinkSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { configFileHosts, daemonHosts, dockerdArgvHead, dockerdCandidates, type DockerdScan, flagValues, readCmdline, scanDockerd } from './dockerd-process.js';
import { processUids, trustedUids, untrustedUids } from './socket-proof.js';
import { samePath } from '../support/same-path.js';

/** A running dockerd that reads the file. */
export interface FileReader {
  /** Its pid. */
  pid: number;
  /** The file it reads, as its command line (or the default) names it. */
  configFile: string;
  /** The endpoint it is proven to listen on (the first of its `-H` the kernel shows it holding), if any. */
  endpoint?: string;
  /** Every endpoint it claims (`-H`, the file's `hosts`, else the default socket). */
  hosts: string[];
}

/** The scan that proved each reader's endpoint; beside the reader rather than in it, so its shape stays the facts. */
const proofs = new WeakMap<FileReader, DockerdScan>();

/**
 * The scan of /proc that proved `reader`'s endpoint, made by the {@link findFileReader} call that found it: the
 * same call can detect the setup behind that endpoint from it (detectSetup's `scan`) instead of scanning again.
 */
export function endpointScan(reader: FileReader | undefined): DockerdScan | undefined {
  return reader ? proofs.get(reader) : undefined;
}

/** Inputs of {@link findFileReader}; injectable for tests. */
export interface FindFileReaderOptions {
  /** Where to scan; default `/proc`. */
  procRoot?: string;
  /** The caller's uid; default the process's. */
  callerUid?: number;
  /** Home folder a rootless dockerd's default file is under; default the caller's. */
  homedir?: string;
  /** The dockerd pids of this call's one listing of /proc (dockerdCandidates); default: list it now. */
  candidates?: readonly number[] | undefined;
}

/**
 * The trusted dockerd whose `--config-file` (or, without one, its default file) is `file`; the lowest pid wins.
 * `undefined` off Linux, or when none runs. Never throws: /proc entries come and go while they are read.
 */
export async function findFileReader(file: string, options: FindFileReaderOptions = {}): Promise<FileReader | undefined> {
  if (process.platform !== 'linux' && options.procRoot === undefined) return undefined;
  const procRoot = options.procRoot ?? '/proc';
  const callerUid = options.callerUid ?? process.getuid?.() ?? 0;
  const trusted = trustedUids(callerUid);
  const candidates = 'candidates' in options ? options.candidates : dockerdCandidates(procRoot);
  if (candidates === undefined) return undefined;
  const wanted = realOrSelf(file);
  for (const pid of candidates) {
    // Listed a moment ago; the pid may have been reused since, so argv[0] is read again.
    if (!dockerdArgvHead(procRoot, pid)) continue;
    const uids = processUids(procRoot, pid);
    if (untrustedUids(uids, trusted) !== undefined || !uids) continue;
    const cmdline = readCmdline(procRoot, pid);
    if (!cmdline) continue;
    const configFile = daemonConfigFile(procRoot, pid, cmdline, uids[0] ?? 0, options.homedir ?? homedir());
    if (configFile === undefined || !samePath(realOrSelf(configFile), wanted)) continue;
    const hosts = daemonHosts(cmdline, await configFileHosts(cmdline));
    for (const host of hosts) {
      const endpoint = host.startsWith('fd://') ? 'unix:///run/docker.sock' : host;
      const scan = await scanDockerd(endpoint, procRoot, callerUid, candidates);
      if (scan.process?.pid !== pid) continue;
      const reader: FileReader = { pid, configFile, hosts, endpoint };
      proofs.set(reader, scan);
      return reader;
    }
    return { pid, configFile, hosts };
  }
  return undefined;
}

/**
 * The file a dockerd reads: its last `--config-file` (relative to its working folder, as dockerd resolves it),
 * else root's `/etc/docker/daemon.json` or a rootless daemon's `~/.config/docker/daemon.json`.
 */
function daemonConfigFile(procRoot: string, pid: number, cmdline: string[], uid: number, home: string): string | undefined {
  const flagged = flagValues(cmdline, '--config-file').at(-1);
  if (flagged === undefined) return uid === 0 && !cmdline.includes('--rootless') ? '/etc/docker/daemon.json' : join(home, '.config', 'docker', 'daemon.json');
  if (isAbsolute(flagged)) return flagged;
  try {
    return resolve(readlinkSync(join(procRoot, String(pid), 'cwd')), flagged);
    // Stryker disable next-line BlockStatement: an empty catch returns undefined all the same
  } catch {
    return undefined; // Its working folder cannot be seen: which file it reads is unknown.
  }
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}
