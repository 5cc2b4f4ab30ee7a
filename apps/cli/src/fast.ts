/**
 * The fast path: `mirror add`, `mirror remove`, `mirror list` (and their aliases `add`, `remove`, `list`) and
 * `status` run without loading oclif at all: about 55 ms of CPU saved on every start here, of ~145 for a whole
 * `mirror list --no-live`. This module only decides, from the specs and the parser (a few KB, no core, no
 * oclif); the command itself is loaded afterwards (src/fast-run.ts, by src/fast-script.ts). Everything it is not
 * sure of goes to oclif exactly as before: help, --version, every other command, a typo, any token the parser
 * does not fully understand (src/fast-parse.ts), `DEBUG` or `DOCKMIRROR_DEBUG` (oclif's own debug output, and
 * stacks), and `DOCKMIRROR_NO_FAST_PATH` set (how the tests run the oclif path to compare). Nothing is read from
 * disk to decide: no manifest, no plugin folder, nothing from the cwd.
 */
import { parseFast, type FastParse } from './fast-parse.js';
import { loadFastRun } from './fast-script.js';
import { mirrorAddSpec, mirrorListSpec, mirrorRemoveSpec, statusSpec, type CommandSpec } from './flag-specs.js';

/** The hot commands: their words on the command line (the oclif id and its alias) and their specs. */
export const HOT_COMMANDS = {
  'mirror:add': { words: [['mirror', 'add'], ['add']], spec: mirrorAddSpec },
  'mirror:remove': { words: [['mirror', 'remove'], ['remove']], spec: mirrorRemoveSpec },
  'mirror:list': { words: [['mirror', 'list'], ['list']], spec: mirrorListSpec },
  status: { words: [['status']], spec: statusSpec },
} as const satisfies Record<string, { words: readonly (readonly string[])[]; spec: CommandSpec }>;

/** A hot command's id. */
export type HotId = keyof typeof HOT_COMMANDS;

/** A command the fast path will run, parsed. */
export interface FastPlan {
  id: HotId;
  parsed: FastParse<CommandSpec>;
}

/** What the fast path would run for `argv` in `env`, or `undefined` when oclif must. Reads nothing, changes nothing. */
export function planFast(argv: readonly string[], env: NodeJS.ProcessEnv): FastPlan | undefined {
  if (env.DOCKMIRROR_NO_FAST_PATH || env.DEBUG || env.DOCKMIRROR_DEBUG) return undefined;
  for (const [id, command] of Object.entries(HOT_COMMANDS) as [HotId, (typeof HOT_COMMANDS)[HotId]][]) {
    for (const words of command.words) {
      if (!words.every((word, i) => argv[i] === word)) continue;
      const parsed = parseFast(argv.slice(words.length), command.spec, env);
      return parsed ? { id, parsed } : undefined;
    }
  }
  return undefined;
}

/**
 * Runs `argv` on the fast path and resolves `true`, or resolves `false` at once, having done nothing, for oclif
 * to run it. A failed command ends the process with its exit code, as oclif does.
 */
export async function runFast(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const plan = planFast(argv, env);
  if (!plan) return false;
  const body = loadFastRun(plan);
  body.keepCache(await body.runPlan(plan, env));
  return true;
}
