import { getStatus, type DockmirrorStatus } from '@dockmirror/core';
import type { CommandIo } from '../command-io.js';
import { configOptions, engineOptions, type Parsed, type statusSpec } from '../flag-specs.js';
import { describeStatus } from '../status-output.js';

/** `dockmirror status`: the setup, the file and the daemon, as lines (and as JSON). */
export async function status({ flags }: Parsed<typeof statusSpec>, io: CommandIo): Promise<DockmirrorStatus> {
  const result = await getStatus({
    ...configOptions(flags),
    ...(flags.engine === undefined && flags.registry === undefined ? {} : engineOptions({ ...flags, engine: flags.engine ?? 'docker' })),
    ...(flags['docker-host'] ? { dockerHost: flags['docker-host'] } : {}),
  });
  for (const line of describeStatus(result)) io.say(line);
  return result;
}
