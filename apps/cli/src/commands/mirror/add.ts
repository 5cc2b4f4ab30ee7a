import type { ChangeResult, MirrorTarget } from '@dockmirror/core';
import { BaseCommand } from '../../base.js';
import { mirrorAddSpec } from '../../flag-specs.js';
import { oclifArgs, oclifFlags } from '../../flags.js';
import { mirrorAdd } from '../../services/mirror-add.js';

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
  static override args = oclifArgs(mirrorAddSpec.args);
  static override flags = oclifFlags(mirrorAddSpec.flags);

  async run(): Promise<ChangeResult & { target: MirrorTarget }> {
    return mirrorAdd(await this.parse(MirrorAdd), this.io);
  }
}
