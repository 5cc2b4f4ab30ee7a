// The fast path's parser against oclif's own, on the very flag and argument definitions the oclif classes use:
// for every argv and environment, the fast parser either declines (oclif then runs the command) or gives
// exactly what oclif's parser gives, with the same notes on stderr. A decline is always safe; a different answer
// is never allowed.
import fc from 'fast-check';
import { Flags, Parser } from '@oclif/core';
import { afterEach, describe, expect, it } from 'vitest';
import MirrorAdd from '../src/commands/mirror/add.js';
import MirrorList from '../src/commands/mirror/list.js';
import MirrorRemove from '../src/commands/mirror/remove.js';
import Status from '../src/commands/status.js';
import { parseFast } from '../src/fast-parse.js';
import { planFast } from '../src/fast.js';
import { mirrorAddSpec, mirrorListSpec, mirrorRemoveSpec, statusSpec, type CommandSpec, type FlagSpec } from '../src/flag-specs.js';

const COMMANDS: [string, CommandSpec, { flags?: object; args?: object }][] = [
  ['mirror add', mirrorAddSpec, MirrorAdd],
  ['mirror remove', mirrorRemoveSpec, MirrorRemove],
  ['mirror list', mirrorListSpec, MirrorList],
  ['status', statusSpec, Status],
];

const ENV_KEYS = ['DOCKMIRROR_KEEP_BACKUPS', 'DOCKMIRROR_STATE_DIR'] as const;
afterEach(() => {
  for (const key of ENV_KEYS) delete process.env[key];
});

/** oclif's parse of `argv` for `command` in `env`, with what its flag parsers wrote to stderr; or its error. */
async function oclifParse(command: { flags?: object; args?: object }, argv: string[], env: Record<string, string | undefined>) {
  for (const key of ENV_KEYS) {
    if (env[key] === undefined) delete process.env[key];
    else process.env[key] = env[key];
  }
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => written.push(String(chunk))) as typeof write;
  try {
    // What oclif's Command.parse hands the parser: the class's flags plus `--json` (enableJsonFlag), strict.
    const output = await Parser.parse(argv, {
      flags: { ...command.flags, json: Flags.boolean({ description: 'Format output as json.', helpGroup: 'GLOBAL' }) },
      args: command.args ?? {},
      strict: true,
      context: {} as never,
    });
    return { args: output.args, flags: output.flags, notes: written.join('') };
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    process.stderr.write = write;
  }
}

/** Values to try for a flag of this kind: good ones and ones oclif refuses. */
function valuesFor(flag: FlagSpec): string[] {
  switch (flag.kind) {
    case 'option':
      return [...flag.options, 'podmann', ''];
    case 'integer':
      return ['0', '1', '20', '65535', '65536', '-1', '1e3', '007', 'abc'];
    case 'seconds':
      return ['0', '1.5', '.5', '99999', '1e2', 'abc', ' 2 ', '-1'];
    default:
      return ['/tmp/x', 'a=b', '', '-x', 'unix:///x', '--json'];
  }
}

/**
 * Command lines for `spec`: pieces that are mostly flags in every form (`--a b`, `--a=b`, `--no-a`, `-y`) with
 * good and bad values, plus positional words and junk oclif answers with a usage error (or help).
 */
function argvFor(spec: CommandSpec): fc.Arbitrary<string[]> {
  const flags = Object.entries({ ...spec.flags, json: { kind: 'boolean', summary: '' } as FlagSpec });
  const flag = fc.constantFrom(...flags).chain(([name, spec]) =>
    spec.kind === 'boolean'
      ? fc.constantFrom([`--${name}`], [`--no-${name}`], [`--${name}=true`], ...('char' in spec && spec.char ? [[`-${spec.char}`], [`-${spec.char}${spec.char}`]] : []))
      : fc.constantFrom(...valuesFor(spec)).chain((value) => fc.constantFrom([`--${name}`, value], [`--${name}=${value}`], [`--${name}`])),
  );
  const word = fc.constantFrom(['http://127.0.0.1:5000'], ['local'], ['a=b'], ['-'], ['-5']);
  const junk = fc.constantFrom(['--'], ['-h'], ['--help'], ['--bogus'], ['-v'], ['-x']);
  const pieces = fc.array(fc.oneof({ arbitrary: flag, weight: 8 }, { arbitrary: word, weight: 1 }, { arbitrary: junk, weight: 1 }), { maxLength: 6 });
  // A command with an argument gets one mostly, somewhere among the flags, so that many lines are complete.
  const withArg = Object.keys(spec.args).length > 0;
  return fc.tuple(pieces, fc.nat(), fc.boolean(), fc.boolean()).map(([list, at, skip, skipToo]) => {
    if (withArg && !(skip && skipToo)) list.splice(at % (list.length + 1), 0, ['mirror.example']);
    return list.flat();
  });
}

describe('the fast parser', () => {
  for (const [name, spec, command] of COMMANDS) {
    it(`declines or agrees with oclif's parser for ${name}`, async () => {
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(
          argvFor(spec),
          fc.record({
            DOCKMIRROR_KEEP_BACKUPS: fc.constantFrom(undefined, '', '5', '0', 'abc'),
            DOCKMIRROR_STATE_DIR: fc.constantFrom(undefined, '', '/srv/state'),
          }),
          async (argv, env) => {
            const fast = parseFast(argv, spec, env);
            if (fast === undefined) return;
            accepted += 1;
            const oclif = await oclifParse(command, argv, env);
            expect(oclif, argv.join(' ')).toEqual({ args: fast.args, flags: fast.flags, notes: fast.notes.map((n) => `${n}\n`).join('') });
          },
        ),
        // No shrinking: a failing case is shown as found (shrinking these chained lines takes minutes).
        { numRuns: 1500, endOnFailure: true },
      );
      // Not a parser that declines everything.
      expect(accepted).toBeGreaterThan(100);
    });
  }

  it('accepts the usual forms, with the same result as oclif', async () => {
    const cases: [CommandSpec, object, string[]][] = [
      [mirrorAddSpec, MirrorAdd, ['http://127.0.0.1:5000']],
      [mirrorAddSpec, MirrorAdd, ['local', '--apply', 'none', '--config-file=/etc/docker/daemon.json', '--no-insecure', '-y', '--json']],
      [mirrorAddSpec, MirrorAdd, ['--timeout', '2.5', 'http://x:1', '--keep-backups', '3', '--port=7888', '--position', 'last', '--engine', 'all']],
      [mirrorAddSpec, MirrorAdd, ['http://x:1', '--timeout', '99999']],
      [mirrorRemoveSpec, MirrorRemove, ['http://x:1', '--dry-run', '--state-dir', '/s', '--docker-host', 'unix:///run/docker.sock']],
      [mirrorListSpec, MirrorList, []],
      [mirrorListSpec, MirrorList, ['--no-live', '--json', '--registry', 'ghcr.io']],
      [statusSpec, Status, ['--engine', 'podman']],
    ];
    for (const [spec, command, argv] of cases) {
      const fast = parseFast(argv, spec, { DOCKMIRROR_KEEP_BACKUPS: '7' });
      expect(fast, argv.join(' ')).toBeDefined();
      expect(await oclifParse(command, argv, { DOCKMIRROR_KEEP_BACKUPS: '7' })).toEqual({ args: fast!.args, flags: fast!.flags, notes: fast!.notes.map((n) => `${n}\n`).join('') });
    }
  });

  it('leaves to oclif what oclif answers with a usage error or reads from stdin', () => {
    for (const argv of [[], ['a', 'b'], ['a', '--'], ['a', '--apply'], ['a', '--apply', 'sometimes'], ['a', '--keep-backups', '0'], ['a', '--timeout', '0'], ['a', '--dry-run=true'], ['a', '-yy'], ['a', '--yes', '--yes'], ['a', '--config-file', '--json'], ['a', '--no-dry-run'], ['a', '--help'], ['a', '-h']]) {
      expect(parseFast(argv, mirrorAddSpec, {}), argv.join(' ')).toBeUndefined();
    }
    expect(parseFast(['a'], mirrorAddSpec, { DOCKMIRROR_KEEP_BACKUPS: 'many' })).toBeUndefined();
  });
});

describe('which command lines take the fast path', () => {
  it('only the hot commands and their aliases, and never with DEBUG or the test switch', () => {
    expect(planFast(['mirror', 'add', 'http://x:1'], {})?.id).toBe('mirror:add');
    expect(planFast(['add', 'http://x:1'], {})?.id).toBe('mirror:add');
    expect(planFast(['remove', 'http://x:1'], {})?.id).toBe('mirror:remove');
    expect(planFast(['mirror', 'list'], {})?.id).toBe('mirror:list');
    expect(planFast(['list', '--json'], {})?.id).toBe('mirror:list');
    expect(planFast(['status'], {})?.id).toBe('status');
    for (const argv of [[], ['--help'], ['--version'], ['-v'], ['mirror'], ['mirror', 'verify'], ['verify'], ['rollback'], ['help', 'add'], ['ad', 'x'], ['mirror', 'list', 'extra'], ['list', 'mirror']]) {
      expect(planFast(argv, {}), argv.join(' ')).toBeUndefined();
    }
    for (const env of [{ DEBUG: '1' }, { DOCKMIRROR_DEBUG: '1' }, { DOCKMIRROR_NO_FAST_PATH: '1' }]) {
      expect(planFast(['mirror', 'list'], env)).toBeUndefined();
    }
  });
});
