/**
 * The fast path's parser: argv and the environment to the same `{ args, flags }` oclif's parser makes from the
 * same specs (src/flag-specs.ts), or `undefined` for anything it is not sure of. It is deliberately narrow, since
 * `undefined` only means oclif runs the command and gives its own answer, usage errors included; what it
 * accepts, oclif must accept with the same result (test/fast-parse.test.ts checks that against oclif's parser).
 *
 * Accepted: `--name value`, `--name=value`, `--flag`, `--no-flag` (allowNo), `-y`, each flag at most once, and
 * exactly the positional arguments the command takes. Handed to oclif: `--`, `-` and any other token starting
 * with `-`, a value that starts with `-` or is empty, `--flag=value` for a boolean, a value oclif would refuse
 * (not among the options, not an integer in range, not seconds above 0), a bad env value, a missing or extra
 * argument (a missing one oclif may read from stdin).
 */
import { cappedNote, parseInteger, parseSeconds, type CommandSpec, type FlagSpec, type Parsed } from './flag-specs.js';

/** The result of a fast parse: what oclif's parser would give, and the notes it would print on the way. */
export interface FastParse<C extends CommandSpec> extends Parsed<C> {
  /** Lines for stderr that oclif's flag parsers print (a capped `--timeout`), in order. */
  notes: string[];
}

/** The `--json` flag oclif adds to every command with `enableJsonFlag`. */
const JSON_FLAG: FlagSpec = { kind: 'boolean', summary: 'Format output as json.' };

type Value = string | number | boolean;

/** A flag's value from text, or `undefined` when oclif would refuse it. */
function valueOf(spec: FlagSpec, input: string): { value: Value; capped: boolean } | undefined {
  switch (spec.kind) {
    case 'string':
      return { value: input, capped: false };
    case 'option':
      return spec.options.includes(input) ? { value: input, capped: false } : undefined;
    case 'integer': {
      const value = parseInteger(input, spec);
      return value === undefined ? undefined : { value, capped: false };
    }
    case 'seconds': {
      const parsed = parseSeconds(input);
      return parsed === undefined ? undefined : { value: parsed.seconds, capped: parsed.capped };
    }
    case 'boolean':
      return undefined;
  }
}

/** Parses `argv` (the words after the command's name) for `spec`, or `undefined` to leave it to oclif. */
export function parseFast<C extends CommandSpec>(argv: readonly string[], spec: C, env: NodeJS.ProcessEnv): FastParse<C> | undefined {
  const specs: Record<string, FlagSpec> = { ...spec.flags, json: JSON_FLAG };
  const given = new Map<string, { value: Value; input: string; capped: boolean }>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const token = argv[i]!;
    if (!token.startsWith('-')) {
      positional.push(token);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (token.startsWith('--')) {
      const equals = token.indexOf('=');
      name = equals === -1 ? token.slice(2) : token.slice(2, equals);
      inline = equals === -1 ? undefined : token.slice(equals + 1);
    } else {
      // Only a short flag the command defines, alone: no bundles (-yv), no attached values.
      const short = Object.entries(specs).find(([, s]) => s.kind === 'boolean' && s.char !== undefined && `-${s.char}` === token);
      if (!short) return undefined;
      name = short[0];
    }
    let flag = Object.hasOwn(specs, name) ? specs[name] : undefined;
    let negated = false;
    if (!flag && name.startsWith('no-')) {
      const positive = Object.hasOwn(specs, name.slice(3)) ? specs[name.slice(3)] : undefined;
      if (positive?.kind === 'boolean' && positive.allowNo) {
        name = name.slice(3);
        flag = positive;
        negated = true;
      }
    }
    if (!flag || given.has(name)) return undefined;
    if (flag.kind === 'boolean') {
      if (inline !== undefined) return undefined;
      given.set(name, { value: !negated, input: token, capped: false });
      continue;
    }
    const input = inline ?? argv[(i += 1)];
    if (input === undefined || input === '' || input.startsWith('-')) return undefined;
    const parsed = valueOf(flag, input);
    if (!parsed) return undefined;
    given.set(name, { ...parsed, input });
  }
  const argNames = Object.keys(spec.args);
  if (positional.length > argNames.length) return undefined;
  const args: Record<string, string> = {};
  for (const [index, argName] of argNames.entries()) {
    const value = positional[index];
    if (value === undefined) {
      if (spec.args[argName]!.required) return undefined;
      continue;
    }
    args[argName] = value;
  }
  const flags: Record<string, Value> = {};
  const notes: string[] = [];
  for (const [name, flag] of Object.entries(specs)) {
    const token = given.get(name);
    if (token) {
      flags[name] = token.value;
      if (token.capped) notes.push(cappedNote(name, token.input));
      continue;
    }
    // oclif reads a flag's env var only when it is set and not empty.
    const fromEnv = 'env' in flag && flag.env !== undefined ? env[flag.env] : undefined;
    if (fromEnv) {
      const parsed = valueOf(flag, fromEnv);
      if (!parsed) return undefined;
      flags[name] = parsed.value;
      continue;
    }
    if ('default' in flag && flag.default !== undefined) flags[name] = flag.default;
  }
  return { args, flags, notes } as unknown as FastParse<C>;
}
