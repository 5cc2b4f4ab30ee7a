import { Args } from '@oclif/core';
import { removeMirror, type ChangeResult } from '@dockmirror/core';
import { BaseCommand } from '../../base.js';
import { mutationFlags, mutationOptions } from '../../flags.js';
import { describeChange } from '../../output.js';

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
    mirror: Args.string({ required: true, description: 'Mirror URL as it is in daemon.json.' }),
  };
  static override flags = { ...mutationFlags };

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(MirrorRemove);
    const result = await removeMirror({ ...mutationOptions(flags), mirror: args.mirror });
    for (const line of describeChange(result, `Removed ${args.mirror}`)) this.say(line);
    return result;
  }
}
