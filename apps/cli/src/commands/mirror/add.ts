import { Args, Flags } from '@oclif/core';
import { addMirror, type ChangeResult, type MirrorTarget } from '@dockmirror/core';
import { BaseCommand } from '../../base.js';
import { engineFlags, engineOptions, mutationFlags, mutationOptions, presetFlags, presetOptions } from '../../flags.js';
import { describeChange, describeTarget } from '../../output.js';

/** `dockmirror mirror add <mirror>` (also `dockmirror add`). */
export default class MirrorAdd extends BaseCommand {
  static override aliases = ['add'];
  static override summary = 'Add a registry mirror to daemon.json (or, with --engine, containerd\'s or Podman\'s files) and apply it.';
  static override description =
    'Inserts the mirror into "registry-mirrors" (first by default) and, for an http:// mirror, its host:port into "insecure-registries". Nothing else in the file changes. A backup is taken first.';
  static override examples = [
    '<%= config.bin %> add http://127.0.0.1:5000 --dry-run',
    '<%= config.bin %> mirror add https://mirror.gcr.io --position last',
    '<%= config.bin %> add http://127.0.0.1:5000 --registry ghcr.io --engine containerd',
    '<%= config.bin %> mirror add http://10.0.0.5:5000 --no-insecure --config-file ./daemon.json --apply none',
  ];
  static override args = {
    mirror: Args.string({ required: true, description: 'Mirror URL (http:// or https://) or preset name (pyrsia, local, gcr, or your own).' }),
  };
  static override flags = {
    ...mutationFlags,
    ...engineFlags,
    ...presetFlags,
    position: Flags.option({ options: ['first', 'last'] as const, default: 'first' as const, summary: 'Where the mirror goes in the list.' })(),
    insecure: Flags.boolean({ default: true, allowNo: true, summary: 'For an http:// mirror, also add its host:port to insecure-registries.' }),
  };

  async run(): Promise<ChangeResult & { target: MirrorTarget }> {
    const { args, flags } = await this.parse(MirrorAdd);
    const result = await addMirror({ ...mutationOptions(flags), ...engineOptions(flags), ...this.interaction(), ...presetOptions(flags), mirror: args.mirror, position: flags.position, insecure: flags.insecure });
    for (const line of [...describeTarget(result.target), ...describeChange(result, `Added ${result.target.url}`)]) this.say(line);
    return result;
  }
}
