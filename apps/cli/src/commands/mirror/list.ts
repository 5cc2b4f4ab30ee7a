import { Flags } from '@oclif/core';
import { listMirrors, normalizeMirror, type MirrorList } from '@dockmirror/core';
import { BaseCommand } from '../../base.js';
import { configFlags, configOptions, engineFlags, engineOptions } from '../../flags.js';
import { describeEngines, paint } from '../../output.js';

/** `dockmirror mirror list`. */
export default class MirrorList_ extends BaseCommand {
  static override aliases = ['list'];
  static override summary = 'List the mirrors in daemon.json (or another engine\'s files), beside what the daemon uses.';
  static override examples = [
    '<%= config.bin %> mirror list',
    '<%= config.bin %> mirror list --no-live --json --config-file ./daemon.json',
    '<%= config.bin %> mirror list --engine all',
  ];
  static override flags = {
    ...configFlags,
    ...engineFlags,
    'docker-host': Flags.string({ summary: 'Docker Engine endpoint to ask for the live column.', helpValue: '<url>' }),
    live: Flags.boolean({ default: true, allowNo: true, summary: 'Ask the running daemon what it uses.' }),
  };

  async run(): Promise<MirrorList> {
    const { flags } = await this.parse(MirrorList_);
    const list = await listMirrors({
      ...configOptions(flags),
      ...engineOptions(flags),
      live: flags.live,
      ...(flags['docker-host'] ? { dockerHost: flags['docker-host'] } : {}),
    });
    for (const warning of list.warnings) this.tell(`${paint('yellow', '!', process.stderr)} ${warning}`);
    if (flags.engine !== 'docker' || flags.registry !== undefined) {
      for (const line of describeEngines(list.engines)) this.say(line);
      return list;
    }
    const live = list.live && 'mirrors' in list.live ? list.live : undefined;
    this.say(`${list.configFile}${list.exists ? '' : paint('dim', ' (does not exist yet)')}`);
    if (list.live && 'error' in list.live) this.say(paint('dim', `live: ${list.live.error}`));
    this.say(live ? 'registry-mirrors:                                   live' : 'registry-mirrors:');
    const liveSet = new Set(live?.mirrors.map(normalizeMirror));
    for (const [i, mirror] of list.mirrors.entries()) {
      const column = live ? (liveSet.has(normalizeMirror(mirror)) ? paint('green', 'yes') : paint('yellow', 'not applied')) : '';
      this.say(`  ${`${i + 1}. ${mirror}`.padEnd(50)} ${column}`.trimEnd());
    }
    if (list.mirrors.length === 0) this.say('  (none)');
    const fileSet = new Set(list.mirrors.map(normalizeMirror));
    for (const extra of live?.mirrors.filter((m) => !fileSet.has(normalizeMirror(m))) ?? []) {
      this.say(`  ${`-  ${extra}`.padEnd(50)} ${paint('yellow', 'live only (not in the file)')}`);
    }
    this.say('insecure-registries:');
    for (const entry of list.insecureRegistries) {
      this.say(`  - ${entry}${list.ownedInsecureRegistries.includes(entry) ? paint('dim', ' (added by dockmirror)') : ''}`);
    }
    if (list.insecureRegistries.length === 0) this.say('  (none)');
    return list;
  }
}
