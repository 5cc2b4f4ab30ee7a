/**
 * The long-running programs that cache registries.conf, found in /proc: a `podman system service` (the Docker
 * API of podman) reads it once, and CRI-O reads it at start and on SIGHUP. podman, buildah and skopeo
 * themselves reread it on every run. A podman service is named for the user to restart; CRI-O is sent SIGHUP,
 * but only a crio whose four uids are root's (or the caller's), checked again just before the signal.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { processUids, trustedUids, untrustedUids } from '../../daemon/socket-proof.js';
import { readBounded } from '../../support/bounded-read.js';

/** The processes found. */
export interface RegistriesConfReaders {
  /** pids of `podman system service` (also `podman system service` started as `podman … system service`). */
  podmanServices: number[];
  /** pids of crio processes that root (or the caller) runs: the ones that may be sent SIGHUP. */
  crio: number[];
  /** crio processes passed over, and why (another user's program named crio). */
  untrustedCrio?: { pid: number; reason: string }[];
}

/** A command line is short; more is refused rather than read. */
const MAX_CMDLINE = 64 * 1024;
/** /proc of a busy host has a few thousand processes; past this the scan stops. */
const MAX_PROCESSES = 100_000;

/** Scans `procRoot` (default /proc) for processes that cache registries.conf; an unreadable /proc finds none. */
export async function findRegistriesConfReaders(procRoot = '/proc', trusted = trustedUids()): Promise<RegistriesConfReaders> {
  const found: RegistriesConfReaders = { podmanServices: [], crio: [] };
  let entries: string[];
  try {
    entries = (await readdir(procRoot)).filter((e) => /^\d+$/.test(e)).slice(0, MAX_PROCESSES);
  } catch {
    return found;
  }
  for (const pid of entries) {
    const bytes = await readBounded(path.join(procRoot, pid, 'cmdline'), { maxBytes: MAX_CMDLINE }).catch(() => undefined);
    if (!bytes || bytes.length === 0) continue;
    const argv = bytes.toString('utf8').split('\0').filter(Boolean);
    const program = path.basename(argv[0] ?? '');
    if (program === 'crio') {
      const distrust = untrustedUids(processUids(procRoot, Number(pid)), trusted);
      if (distrust === undefined) found.crio.push(Number(pid));
      else (found.untrustedCrio ??= []).push({ pid: Number(pid), reason: distrust });
    }
    if (program === 'podman') {
      const system = argv.indexOf('system');
      if (system !== -1 && argv[system + 1] === 'service') found.podmanServices.push(Number(pid));
    }
  }
  return found;
}

/** What applying a registries.conf change means with these readers running, in one sentence or two. */
export function applyReason(readers: RegistriesConfReaders): string {
  let reason = 'podman, buildah and skopeo read registries.conf on every run: nothing to apply.';
  if (readers.podmanServices.length > 0) {
    reason += ` A running podman system service (pid ${readers.podmanServices.join(', ')}) read it when it started: restart it to use the change (systemctl restart podman.socket podman.service, or stop and start it).`;
  }
  if (readers.crio.length > 0) {
    reason += ` CRI-O (pid ${readers.crio.join(', ')}) rereads it on SIGHUP: run kill -HUP ${readers.crio.join(' ')}, or let dockmirror send it (--apply auto or reload).`;
  }
  for (const passed of readers.untrustedCrio ?? []) reason += ` Passed over crio pid ${passed.pid}: ${passed.reason}.`;
  return reason;
}

/**
 * Sends SIGHUP to each CRI-O found, after checking again that the pid is still a crio root (or the caller) runs:
 * a pid can be reused between the scan and the signal. CRI-O rereads registries.conf on SIGHUP and offers no way
 * to read back what it uses, so the result says it was told, not that it is confirmed.
 */
export async function reloadCrio(pids: readonly number[], procRoot = '/proc', trusted = trustedUids()): Promise<{ signalled: number[]; skipped: number[] }> {
  const signalled: number[] = [];
  const skipped: number[] = [];
  for (const pid of pids) {
    const again = await findRegistriesConfReaders(procRoot, trusted).then((r) => r.crio.includes(pid));
    if (!again) {
      skipped.push(pid);
      continue;
    }
    try {
      process.kill(pid, 'SIGHUP');
      signalled.push(pid);
    } catch {
      skipped.push(pid); // gone since
    }
  }
  return { signalled, skipped };
}
