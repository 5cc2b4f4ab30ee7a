import type { DockmirrorStatus } from '@dockmirror/core';
import { BaseCommand } from '../base.js';
import { statusSpec } from '../flag-specs.js';
import { oclifFlags } from '../flags.js';
import { status } from '../services/status.js';

/** `dockmirror status`. */
export default class Status extends BaseCommand {
  static override summary = 'Show the setup, daemon.json, the daemon, and the mirrors in the file beside the live ones.';
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json --docker-host unix:///run/docker.sock'];
  static override flags = oclifFlags(statusSpec.flags);

  async run(): Promise<DockmirrorStatus> {
    return status(await this.parse(Status), this.io);
  }
}
