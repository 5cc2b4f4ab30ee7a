import { addMirror, type ChangeResult, type MirrorTarget } from '@dockmirror/core';
import type { CommandIo } from '../command-io.js';
import { engineOptions, mutationOptions, presetOptions, type mirrorAddSpec, type Parsed } from '../flag-specs.js';
import { describeChange, describeTarget } from '../output.js';

/** `dockmirror mirror add <mirror>`: parsed flags to core's addMirror, the result as lines (and as JSON). */
export async function mirrorAdd({ args, flags }: Parsed<typeof mirrorAddSpec>, io: CommandIo): Promise<ChangeResult & { target: MirrorTarget }> {
  const result = await addMirror({
    ...mutationOptions(flags),
    ...engineOptions(flags),
    ...io.interaction(),
    ...presetOptions(flags),
    mirror: args.mirror,
    position: flags.position,
    insecure: flags.insecure,
  });
  for (const line of [...describeTarget(result.target), ...describeChange(result, `Added ${result.target.url}`)]) io.say(line);
  return result;
}
