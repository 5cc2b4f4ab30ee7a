import { listBackups, type BackupInfo } from '@dockmirror/core';
import { BaseCommand } from '../base.js';
import { configFlags, configOptions } from '../flags.js';
import { paint } from '../output.js';

/** `dockmirror backups`. */
export default class Backups extends BaseCommand {
  static override summary = 'List the backups dockmirror took, newest first.';
  static override examples = ['<%= config.bin %> backups', '<%= config.bin %> backups --json'];
  static override flags = { ...configFlags };

  async run(): Promise<{ stateDir: string; backups: BackupInfo[]; warnings: string[] }> {
    const { flags } = await this.parse(Backups);
    const result = await listBackups(configOptions(flags));
    for (const warning of result.warnings) this.tell(`${paint('yellow', '!', process.stderr)} ${warning}`);
    if (result.backups.length === 0 && result.warnings.length === 0) this.say(`No backups in ${result.stateDir}.`);
    for (const b of result.backups) {
      const what = `${b.op}${typeof b.args.mirror === 'string' ? ` ${b.args.mirror}` : ''}`;
      const notes = `${b.existed ? '' : paint('dim', ' (did not exist)')}${b.status === 'pending' ? paint('yellow', ' (interrupted: settled by the next command)') : ''}`;
      this.say(`${b.id}  ${b.time}  ${what.padEnd(40)} ${b.file}${notes}`);
    }
    return result;
  }
}
