import { Args } from '@oclif/core';
import { removeMirror, type ChangeResult, type MirrorTarget } from '@dockmirror/core';
import { BaseCommand } from '../../base.js';
import { engineFlags, engineOptions, mutationFlags, mutationOptions, presetFlags, presetOptions } from '../../flags.js';
import { describeChange, describeTarget } from '../../output.js';

/** `dockmirror mirror remove <mirror>` (also `dockmirror remove`). */
export default class MirrorRemove extends BaseCommand {
  static override aliases = ['remove'];
  static override summary = 'Remove a registry mirror from daemon.json and apply it.';
  static override description =
    'Removes the mirror (compared without case or trailing slash). Its insecure-registries entry goes too, but only if dockmirror added it.';
  static override examples = [
    '<%= config.bin %> remove http://127.0.0.1:5000',
    '<%= config.bin %> mirror remove https://mirror.gcr.io --dry-run',
  ];
  static override args = {
    mirror: Args.string({ required: true, description: 'Mirror URL as it is in daemon.json, or a preset name.' }),
  };
  static override flags = { ...mutationFlags, ...engineFlags, ...presetFlags };

  async run(): Promise<ChangeResult & { target: MirrorTarget }> {
    const { args, flags } = await this.parse(MirrorRemove);
    const result = await removeMirror({ ...mutationOptions(flags), ...engineOptions(flags), ...this.interaction(), ...presetOptions(flags), mirror: args.mirror });
    for (const line of [...describeTarget(result.target), ...describeChange(result, `Removed ${result.target.url}`)]) this.say(line);
    return result;
  }
}
