import type { MirrorList } from '@dockmirror/core';
import { BaseCommand } from '../../base.js';
import { mirrorListSpec } from '../../flag-specs.js';
import { oclifFlags } from '../../flags.js';
import { mirrorList } from '../../services/mirror-list.js';

/** `dockmirror mirror list`. */
export default class MirrorList_ extends BaseCommand {
  static override aliases = ['list'];
  static override summary = 'List the mirrors in daemon.json (or another engine\'s files), beside what the daemon uses.';
  static override examples = [
    '<%= config.bin %> mirror list',
    '<%= config.bin %> mirror list --no-live --json --config-file ./daemon.json',
    '<%= config.bin %> mirror list --engine all',
  ];
  static override flags = oclifFlags(mirrorListSpec.flags);

  async run(): Promise<MirrorList> {
    return mirrorList(await this.parse(MirrorList_), this.io);
  }
}
