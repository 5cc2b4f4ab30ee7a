import { listMirrors, type MirrorList } from '@dockmirror/core';
import { BaseCommand } from '../../base.js';
import { configFlags, configOptions } from '../../flags.js';
import { paint } from '../../output.js';

/** `dockmirror mirror list`. */
export default class MirrorList_ extends BaseCommand {
  static override summary = 'List the mirrors and insecure registries in daemon.json.';
  static override examples = ['<%= config.bin %> mirror list', '<%= config.bin %> mirror list --json --config-file ./daemon.json'];
  static override flags = { ...configFlags };

  async run(): Promise<MirrorList> {
    const { flags } = await this.parse(MirrorList_);
    const list = await listMirrors(configOptions(flags));
    this.say(`${list.configFile}${list.exists ? '' : paint('dim', ' (does not exist yet)')}`);
    this.say('registry-mirrors:');
    for (const [i, mirror] of list.mirrors.entries()) this.say(`  ${i + 1}. ${mirror}`);
    if (list.mirrors.length === 0) this.say('  (none)');
    this.say('insecure-registries:');
    for (const entry of list.insecureRegistries) {
      this.say(`  - ${entry}${list.ownedInsecureRegistries.includes(entry) ? paint('dim', ' (added by dockmirror)') : ''}`);
    }
    if (list.insecureRegistries.length === 0) this.say('  (none)');
    return list;
  }
}
