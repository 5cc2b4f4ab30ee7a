import { removeMirror, type ChangeResult, type MirrorTarget } from '@dockmirror/core';
import type { CommandIo } from '../command-io.js';
import { engineOptions, mutationOptions, presetOptions, type mirrorRemoveSpec, type Parsed } from '../flag-specs.js';
import { describeChange, describeTarget, paint } from '../output.js';

/**
 * Why the last mirror leaves `"registry-mirrors": []` rather than no key: dockerd's reload applies only the keys
 * the file has, so without the key the daemon would keep the mirror until its next restart.
 */
const EMPTY_LIST_NOTE = [
  'note: "registry-mirrors": [] stays in the file, where the key may have been absent before: a reload applies only',
  '      the keys the file has, so without it the daemon would keep using the mirror until it restarts.',
  '      To get the file back as it was before that mirror was added, byte for byte, run dockmirror rollback <id>',
  '      with the id of that add in dockmirror backups; the daemon still ends up with no mirrors.',
];

/** `dockmirror mirror remove <mirror>`: parsed flags to core's removeMirror, the result as lines (and as JSON). */
export async function mirrorRemove({ args, flags }: Parsed<typeof mirrorRemoveSpec>, io: CommandIo): Promise<ChangeResult & { target: MirrorTarget }> {
  const result = await removeMirror({ ...mutationOptions(flags), ...engineOptions(flags), ...io.interaction(), ...presetOptions(flags), mirror: args.mirror });
  for (const line of [...describeTarget(result.target), ...describeChange(result, `Removed ${result.target.url}`)]) io.say(line);
  if (result.changed && result.engine === 'docker' && result.mirrors.length === 0) for (const line of EMPTY_LIST_NOTE) io.say(paint('dim', line));
  return result;
}
