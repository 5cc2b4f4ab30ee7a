import { showPresets, type PresetsReport } from '@dockmirror/core';
import { BaseCommand } from '../base.js';
import { configFlags, configOptions } from '../flags.js';
import { paint } from '../output.js';

/** `dockmirror presets`. */
export default class Presets extends BaseCommand {
  static override summary = 'List the presets, the URL each resolves to on this machine, and why.';
  static override description =
    'Built-in presets: pyrsia, local, gcr. Add your own in the presets file shown at the end ({ "name": { "url": "...", "description": "..." } }).';
  static override examples = ['<%= config.bin %> presets', '<%= config.bin %> presets --json'];
  static override flags = { ...configFlags };

  async run(): Promise<PresetsReport> {
    const { flags } = await this.parse(Presets);
    const report = await showPresets(configOptions(flags));
    for (const warning of report.warnings) this.tell(`${paint('yellow', '!', process.stderr)} ${warning}`);
    for (const preset of report.presets) {
      const source = preset.source === 'user' ? paint('yellow', ' (user)') : '';
      this.say(`${paint('cyan', preset.name.padEnd(8))} ${preset.url}${source}`);
      this.say(paint('dim', `         ${preset.description}`));
      for (const reason of preset.reasons) this.say(paint('dim', `         · ${reason}`));
    }
    this.say(paint('dim', `user presets: ${report.presetsFile}; addresses worked out for a ${report.engineKind} engine`));
    return report;
  }
}
