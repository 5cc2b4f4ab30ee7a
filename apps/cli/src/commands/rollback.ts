import { Args, Flags } from '@oclif/core';
import { rollback, type ChangeResult } from '@dockmirror/core';
import { BaseCommand } from '../base.js';
import { engineFlags, mutationFlags, mutationOptions } from '../flags.js';
import { describeChange } from '../output.js';

/** `dockmirror rollback [id]`. */
export default class Rollback extends BaseCommand {
  static override summary = 'Restore every file of the last dockmirror change (daemon.json by default) byte for byte.';
  static override description =
    'Refuses (exit 7) when the file changed since dockmirror wrote it; --force restores anyway. A rollback is itself a change, so running rollback again undoes it.';
  static override examples = ['<%= config.bin %> rollback', '<%= config.bin %> rollback 20261126T161143123Z-a1b2c3 --dry-run'];
  static override args = {
    id: Args.string({ required: false, description: 'Backup id from `dockmirror backups` (default: the latest change).' }),
  };
  static override flags = {
    ...mutationFlags,
    engine: engineFlags.engine,
    force: Flags.boolean({ summary: 'Restore even if daemon.json changed since dockmirror last wrote it.' }),
  };

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(Rollback);
    const result = await rollback({ ...mutationOptions(flags), engine: flags.engine, ...this.interaction(), ...(args.id ? { id: args.id } : {}), force: flags.force });
    for (const line of describeChange(result, 'Rolled back')) this.say(line);
    return result;
  }
}
