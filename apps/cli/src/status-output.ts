import type { DockmirrorStatus } from '@dockmirror/core';
import { describeEngines, mark, paint } from './output.js';

/** Human lines for `dockmirror status` (doctor shows them too). */
export function describeStatus(status: DockmirrorStatus): string[] {
  const lines: string[] = [];
  const { daemon, file } = status;
  lines.push(`daemon.json  ${status.configFile} ${paint('dim', `(${status.configReason}${status.exists ? '' : '; does not exist yet'})`)}`);
  if ('error' in file) lines.push(`${mark(false)} ${file.error.message}`);
  if (daemon.reachable) {
    lines.push(`daemon       ${daemon.endpoint} ${paint('dim', `(${daemon.endpointSource})`)}, dockerd ${daemon.version}, setup: ${daemon.setup}`);
    lines.push(`log          ${daemon.logHint}`);
    if (daemon.trustWarning) lines.push(`${paint('yellow', '!')} ${daemon.trustWarning}`);
    for (const other of daemon.untrustedDaemons ?? []) lines.push(`${paint('yellow', '!')} ignored dockerd pid ${other.pid}: ${other.reason}`);
    if (daemon.readsOtherFile) lines.push(`${paint('yellow', '!')} this daemon reads ${daemon.readsOtherFile}, not ${status.configFile}: no running dockerd reads the file shown`);
  } else {
    lines.push(`${mark(false)} daemon: ${daemon.error}`);
  }
  const row = (label: string, fromFile: string[] | undefined, live: string[] | undefined) =>
    lines.push(`${label.padEnd(13)}file: ${fromFile?.length ? fromFile.join(', ') : '(none)'}${live ? `   live: ${live.length ? live.join(', ') : '(none)'}` : ''}`);
  const live = daemon.reachable ? daemon.live : undefined;
  // On the containerd image store a docker.io hosts.toml with hosts decides, and /info's mirrors are not live.
  const effective = daemon.reachable ? daemon.effective : undefined;
  row('mirrors', 'mirrors' in file ? file.mirrors : undefined, effective && !effective.infoIsLive ? undefined : live?.mirrors);
  if (effective) lines.push(`${'pulls use'.padEnd(13)}${effective.mirrors.map((m) => m.url).join(', ') || '(no mirror)'} ${paint('dim', `(containerd image store; decided by ${effective.decidedBy})`)}`);
  row('insecure', 'mirrors' in file ? file.insecureRegistries : undefined, live?.insecureRegistries);
  if (status.pending) lines.push(`${paint('yellow', '!')} not applied yet: ${status.pending} (run: dockmirror apply)`);
  else if (daemon.reachable && !daemon.readsOtherFile && 'mirrors' in file) lines.push(`${mark(true)} the daemon uses what the file says`);
  for (const conflict of daemon.reachable ? daemon.flagConflicts : []) {
    lines.push(`${mark(false)} flag conflict: ${conflict.flag} ${conflict.values.join(' ')} from ${conflict.source}`);
  }
  if (status.stateError) lines.push(`${mark(false)} state folder: ${status.stateError}`);
  else lines.push(`backups      ${status.backups} in ${status.stateDir}`);
  if (status.engines) lines.push(...describeEngines(status.engines));
  return lines;
}
