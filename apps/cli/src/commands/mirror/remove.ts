import type { ChangeResult, MirrorTarget } from '@dockmirror/core';
import { BaseCommand } from '../../base.js';
import { mirrorRemoveSpec } from '../../flag-specs.js';
import { oclifArgs, oclifFlags } from '../../flags.js';
import { mirrorRemove } from '../../services/mirror-remove.js';

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
  static override args = oclifArgs(mirrorRemoveSpec.args);
  static override flags = oclifFlags(mirrorRemoveSpec.flags);

  async run(): Promise<ChangeResult & { target: MirrorTarget }> {
    return mirrorRemove(await this.parse(MirrorRemove), this.io);
  }
}
