import { Args, Errors, Flags, type Interfaces } from '@oclif/core';
import { toScreen } from './output.js';
import {
  cappedNote,
  configSpecs,
  daemonSpecs,
  engineSpecs,
  mutationSpecs,
  parseSeconds,
  presetSpecs,
  type ArgSpec,
  type BooleanSpec,
  type FlagSpec,
  type IntegerSpec,
  type OptionSpec,
  type SecondsSpec,
} from './flag-specs.js';

export { configOptions, engineOptions, MAX_TIMEOUT_SECONDS, mutationOptions, presetOptions } from './flag-specs.js';

/**
 * A flag of seconds, fractions allowed, more than 0. A value that is not a number, or not above 0, is a usage
 * error (exit 2): oclif maps only its own CLIError from a flag parser to exit 2, any other error is a bug. A value
 * above the cap (a typo, or "wait forever") is capped, with a note on stderr.
 */
export const secondsFlag = Flags.custom<number>({
  helpValue: '<seconds>',
  parse: async (input, _context, flag) => {
    const parsed = parseSeconds(input);
    if (parsed === undefined) throw new Errors.CLIError(`--${flag.name} ${input} is not a number of seconds above 0`);
    if (parsed.capped) process.stderr.write(`${toScreen(cappedNote(flag.name, input))}\n`);
    return parsed.seconds;
  },
});

/** The oclif flag a spec becomes, typed as oclif's parser will fill it in. */
type OclifFlag<S> = S extends BooleanSpec
  ? Interfaces.BooleanFlag<boolean>
  : S extends OptionSpec<infer T>
    ? S extends { default: string }
      ? Interfaces.OptionFlag<T>
      : Interfaces.OptionFlag<T | undefined>
    : S extends IntegerSpec | SecondsSpec
      ? S extends { default: number }
        ? Interfaces.OptionFlag<number>
        : Interfaces.OptionFlag<number | undefined>
      : Interfaces.OptionFlag<string | undefined>;

/** A spec's oclif options: everything but its `kind`. */
function optionsOf<S extends FlagSpec>(spec: S): Omit<S, 'kind'> {
  const { kind: _kind, ...options } = spec;
  return options;
}

/** One spec (src/flag-specs.ts) as an oclif flag: the spec's own fields are oclif's flag options. */
function oclifFlag(spec: FlagSpec): unknown {
  switch (spec.kind) {
    case 'string':
      return Flags.string(optionsOf(spec));
    case 'boolean':
      return Flags.boolean(optionsOf(spec));
    case 'option':
      return Flags.option(optionsOf(spec))();
    case 'integer':
      return Flags.integer(optionsOf(spec));
    case 'seconds':
      return secondsFlag(optionsOf(spec));
  }
}

/** A command's flag specs as oclif flags, for a command class's `static flags`. */
export function oclifFlags<F extends Readonly<Record<string, FlagSpec>>>(specs: F): { [K in keyof F]: OclifFlag<F[K]> } {
  return Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, oclifFlag(spec)])) as { [K in keyof F]: OclifFlag<F[K]> };
}

/** A command's argument specs as oclif args, for a command class's `static args`. */
export function oclifArgs<A extends Readonly<Record<string, ArgSpec>>>(specs: A): { [K in keyof A]: Interfaces.Arg<A[K] extends { required: true } ? string : string | undefined> } {
  return Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, Args.string({ ...spec })])) as never;
}

/** Flags of every command that reads daemon.json. */
export const configFlags = oclifFlags(configSpecs);

/** Flags of every command that talks to the Docker daemon. */
export const daemonFlags = oclifFlags(daemonSpecs);

/** Flags of every command that changes daemon.json. */
export const mutationFlags = oclifFlags(mutationSpecs);

/** Flags that choose the engine (`--engine`) and the upstream registry (`--registry`). */
export const engineFlags = oclifFlags(engineSpecs);

/** Flags that pin the `pyrsia` or `local` preset to an address. */
export const presetFlags = oclifFlags(presetSpecs);
