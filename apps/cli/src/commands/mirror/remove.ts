import { Args } from '@oclif/core';
import { removeMirror, type ChangeResult, type MirrorTarget } from '@dockmirror/core';
import { BaseCommand } from '../../base.js';
import { engineFlags, engineOptions, mutationFlags, mutationOptions, presetFlags, presetOptions } from '../../flags.js';
import { describeChange, describeTarget, paint } from '../../output.js';

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

/** `dockmirror mirror remove <mirror>` (also `dockmirror remove`). */
export default class MirrorRemove extends BaseCommand {
  static override aliases = ['remove'];
  static override summary = 'Remove a registry mirror from daemon.json (or, with --engine, another engine\'s files) and apply it.';
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
    if (result.changed && result.engine === 'docker' && result.mirrors.length === 0) for (const line of EMPTY_LIST_NOTE) this.say(paint('dim', line));
    return result;
  }
}
