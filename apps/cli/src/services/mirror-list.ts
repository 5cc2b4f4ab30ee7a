import { listMirrors, normalizeMirror, type MirrorList } from '@dockmirror/core';
import type { CommandIo } from '../command-io.js';
import { configOptions, engineOptions, type mirrorListSpec, type Parsed } from '../flag-specs.js';
import { describeEngines, paint } from '../output.js';

/** `dockmirror mirror list`: the file's mirrors beside the daemon's live ones, as lines (and as JSON). */
export async function mirrorList({ flags }: Parsed<typeof mirrorListSpec>, io: CommandIo): Promise<MirrorList> {
  const list = await listMirrors({
    ...configOptions(flags),
    ...engineOptions(flags),
    live: flags.live,
    ...(flags['docker-host'] ? { dockerHost: flags['docker-host'] } : {}),
  });
  for (const warning of list.warnings) io.tell(`${paint('yellow', '!', process.stderr)} ${warning}`);
  if (flags.engine !== 'docker' || flags.registry !== undefined) {
    for (const line of describeEngines(list.engines)) io.say(line);
    return list;
  }
  const live = list.live && 'mirrors' in list.live ? list.live : undefined;
  io.say(`${list.configFile}${list.exists ? '' : paint('dim', ' (does not exist yet)')}`);
  if (list.live && 'error' in list.live) io.say(paint('dim', `live: ${list.live.error}`));
  io.say(live ? 'registry-mirrors:                                   live' : 'registry-mirrors:');
  const liveSet = new Set(live?.mirrors.map(normalizeMirror));
  for (const [i, mirror] of list.mirrors.entries()) {
    const column = live ? (liveSet.has(normalizeMirror(mirror)) ? paint('green', 'yes') : paint('yellow', 'not applied')) : '';
    io.say(`  ${`${i + 1}. ${mirror}`.padEnd(50)} ${column}`.trimEnd());
  }
  if (list.mirrors.length === 0) io.say('  (none)');
  const fileSet = new Set(list.mirrors.map(normalizeMirror));
  for (const extra of live?.mirrors.filter((m) => !fileSet.has(normalizeMirror(m))) ?? []) {
    io.say(`  ${`-  ${extra}`.padEnd(50)} ${paint('yellow', 'live only (not in the file)')}`);
  }
  io.say('insecure-registries:');
  for (const entry of list.insecureRegistries) {
    io.say(`  - ${entry}${list.ownedInsecureRegistries.includes(entry) ? paint('dim', ' (added by dockmirror)') : ''}`);
  }
  if (list.insecureRegistries.length === 0) io.say('  (none)');
  return list;
}
