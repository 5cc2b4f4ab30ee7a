import { Flags } from '@oclif/core';
import { applyConfig, type ChangeResult } from '@dockmirror/core';
import { BaseCommand } from '../base.js';
import { configFlags, configOptions, daemonFlags } from '../flags.js';
import { describeApply, paint } from '../output.js';

/** `dockmirror apply`. */
export default class Apply extends BaseCommand {
  static override summary = 'Make the running daemon load what daemon.json says now (after a hand edit, or a change it was not told about).';
  static override description =
    'Tells the dockerd that reads daemon.json to load it (reload where it can, restart only where it must) and confirms it live (from the settings its reload event reports, or GET /info). A key the file does not have means none live: a removed "registry-mirrors" clears the live mirrors, and the file keeps its exact bytes. Does nothing when the daemon already uses what the file says. Exits 5 when the daemon does not take the file.';
  static override examples = ['<%= config.bin %> apply', '<%= config.bin %> apply --apply restart --yes --json'];
  static override flags = {
    ...configFlags,
    ...daemonFlags,
    apply: Flags.option({
      options: ['auto', 'reload', 'restart'] as const,
      default: 'auto' as const,
      summary: 'How: auto reloads where it can, restarts only where it must.',
    })(),
    yes: Flags.boolean({ char: 'y', summary: 'Agree to a restart that stops running containers, without asking.' }),
  };

  async run(): Promise<ChangeResult> {
    const { flags } = await this.parse(Apply);
    const result = await applyConfig({
      ...configOptions(flags),
      ...this.interaction(),
      ...(flags['docker-host'] ? { dockerHost: flags['docker-host'] } : {}),
      timeoutMs: Math.max(1, Math.round(flags.timeout * 1000)),
      apply: flags.apply,
      yes: flags.yes,
    });
    for (const warning of result.warnings) this.say(`${paint('yellow', '!')} ${warning}`);
    this.say(`daemon.json  ${result.configFile}`);
    for (const line of describeApply(result.apply)) this.say(line);
    return result;
  }
}
