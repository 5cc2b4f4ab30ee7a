import { Flags } from '@oclif/core';
import { getStatus, type DockmirrorStatus } from '@dockmirror/core';
import { BaseCommand } from '../base.js';
import { configFlags, configOptions, engineFlags, engineOptions } from '../flags.js';
import { describeStatus } from '../status-output.js';

/** `dockmirror status`. */
export default class Status extends BaseCommand {
  static override summary = 'Show the setup, daemon.json, the daemon, and the mirrors in the file beside the live ones.';
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json --docker-host unix:///run/docker.sock'];
  static override flags = {
    ...configFlags,
    engine: Flags.option({ options: ['docker', 'containerd', 'podman', 'all'] as const, summary: 'Also show this engine\'s mirrors per registry (all: every engine found here).' })(),
    registry: engineFlags.registry,
    'docker-host': Flags.string({ summary: 'Docker Engine endpoint.', helpValue: '<url>' }),
  };

  async run(): Promise<DockmirrorStatus> {
    const { flags } = await this.parse(Status);
    const status = await getStatus({
      ...configOptions(flags),
      ...(flags.engine === undefined && flags.registry === undefined ? {} : engineOptions({ ...flags, engine: flags.engine ?? 'docker' })),
      ...(flags['docker-host'] ? { dockerHost: flags['docker-host'] } : {}),
    });
    for (const line of describeStatus(status)) this.say(line);
    return status;
  }
}
