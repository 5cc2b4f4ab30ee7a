import { Flags } from '@oclif/core';
import { getStatus, type DockmirrorStatus } from '@dockmirror/core';
import { BaseCommand } from '../base.js';
import { configFlags, configOptions } from '../flags.js';
import { mark, paint } from '../output.js';

/** `dockmirror status`. */
export default class Status extends BaseCommand {
  static override summary = 'Show the setup, daemon.json, the daemon, and the mirrors in the file beside the live ones.';
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json --docker-host unix:///run/docker.sock'];
  static override flags = {
    ...configFlags,
    'docker-host': Flags.string({ summary: 'Docker Engine endpoint.', helpValue: '<url>' }),
  };

  async run(): Promise<DockmirrorStatus> {
    const { flags } = await this.parse(Status);
    const status = await getStatus({ ...configOptions(flags), ...(flags['docker-host'] ? { dockerHost: flags['docker-host'] } : {}) });
    for (const line of Status.describe(status)) this.say(line);
    return status;
  }

  /** Human lines for a status (doctor shows them too). */
  static describe(status: DockmirrorStatus): string[] {
    const lines: string[] = [];
    const { daemon, file } = status;
    lines.push(`daemon.json  ${status.configFile} ${paint('dim', `(${status.configReason}${status.exists ? '' : '; does not exist yet'})`)}`);
    if ('error' in file) lines.push(`${mark(false)} ${file.error.message}`);
    if (daemon.reachable) {
      lines.push(`daemon       ${daemon.endpoint} ${paint('dim', `(${daemon.endpointSource})`)}, dockerd ${daemon.version}, setup: ${daemon.setup}`);
      lines.push(`log          ${daemon.logHint}`);
    } else {
      lines.push(`${mark(false)} daemon: ${daemon.error}`);
    }
    const row = (label: string, fromFile: string[] | undefined, live: string[] | undefined) =>
      lines.push(`${label.padEnd(13)}file: ${fromFile?.length ? fromFile.join(', ') : '(none)'}${live ? `   live: ${live.length ? live.join(', ') : '(none)'}` : ''}`);
    const live = daemon.reachable ? daemon.live : undefined;
    row('mirrors', 'mirrors' in file ? file.mirrors : undefined, live?.mirrors);
    row('insecure', 'mirrors' in file ? file.insecureRegistries : undefined, live?.insecureRegistries);
    if (status.pending) lines.push(`${paint('yellow', '!')} not applied yet: ${status.pending}`);
    else if (daemon.reachable && 'mirrors' in file) lines.push(`${mark(true)} the daemon uses what the file says`);
    for (const conflict of daemon.reachable ? daemon.flagConflicts : []) {
      lines.push(`${mark(false)} flag conflict: ${conflict.flag} ${conflict.values.join(' ')} from ${conflict.source}`);
    }
    lines.push(`backups      ${status.backups} in ${status.stateDir}`);
    return lines;
  }
}
