/**
 * The flags and arguments of the hot commands as plain data, without oclif: the one definition that both the oclif
 * command classes (through src/flags.ts, which turns each spec into an oclif flag) and the fast path's parser
 * (src/fast-parse.ts) read, so the two can never disagree on a name, a default, an env var or a choice. Also the
 * mapping from parsed flags to core options, which both paths share.
 */

/**
 * The longest any timeout may be. Past setTimeout's range (about 24.8 days) a timer fires at once, so a huge
 * value would mean no wait at all; an hour is far beyond any daemon restart or registry probe.
 */
export const MAX_TIMEOUT_SECONDS = 3600;

/** A flag taking any text. */
export interface StringSpec {
  readonly kind: 'string';
  readonly summary: string;
  readonly helpValue?: string;
  /** Read when the flag is not given and this variable is set and not empty (oclif's rule). */
  readonly env?: string;
}

/** A flag that is on when given; with `allowNo`, `--no-<name>` turns it off. */
export interface BooleanSpec {
  readonly kind: 'boolean';
  readonly summary: string;
  readonly char?: 'y';
  readonly allowNo?: boolean;
  readonly default?: boolean;
}

/** A flag taking one of a fixed set of words. */
export interface OptionSpec<T extends string = string> {
  readonly kind: 'option';
  readonly summary: string;
  readonly options: readonly T[];
  readonly default?: T;
}

/** A flag taking a whole number (oclif's integer flag: optional minus, digits only). */
export interface IntegerSpec {
  readonly kind: 'integer';
  readonly summary: string;
  readonly env?: string;
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}

/** A flag of seconds, fractions allowed, more than 0, capped at {@link MAX_TIMEOUT_SECONDS}. */
export interface SecondsSpec {
  readonly kind: 'seconds';
  readonly summary: string;
  readonly default: number;
}

/** Any flag. */
export type FlagSpec = StringSpec | BooleanSpec | OptionSpec | IntegerSpec | SecondsSpec;

/** A positional argument; the hot commands have at most one, always text. */
export interface ArgSpec {
  readonly description: string;
  readonly required: boolean;
}

/** A command's arguments and flags (without `--json`, which every command has). */
export interface CommandSpec {
  readonly args: Readonly<Record<string, ArgSpec>>;
  readonly flags: Readonly<Record<string, FlagSpec>>;
}

/** The value a parsed flag has: `undefined` where oclif leaves it out (no token, no env, no default). */
export type FlagValue<S> = S extends BooleanSpec
  ? S extends { default: boolean }
    ? boolean
    : boolean | undefined
  : S extends OptionSpec<infer T>
    ? S extends { default: string }
      ? T
      : T | undefined
    : S extends IntegerSpec | SecondsSpec
      ? S extends { default: number }
        ? number
        : number | undefined
      : string | undefined;

/** What parsing a command's argv gives, the same shape oclif's `this.parse` returns. */
export interface Parsed<C extends CommandSpec> {
  args: { [K in keyof C['args']]: C['args'][K] extends { required: true } ? string : string | undefined };
  flags: { [K in keyof C['flags']]: FlagValue<C['flags'][K]> } & { json?: boolean };
}

/**
 * What a `--timeout`-style value means: the seconds (capped), whether it was capped, or `undefined` when it is
 * not a number of seconds above 0. Pure, so a parser may try a value before it decides to say anything.
 */
export function parseSeconds(input: string): { seconds: number; capped: boolean } | undefined {
  const text = input.trim();
  const seconds = /^(\d+\.?\d*|\.\d+)(e\+?\d+)?$/i.test(text) ? Number(text) : Number.NaN;
  if (!(seconds > 0)) return undefined;
  return seconds > MAX_TIMEOUT_SECONDS ? { seconds: MAX_TIMEOUT_SECONDS, capped: true } : { seconds, capped: false };
}

/** The note on stderr when a `--timeout`-style value was capped. */
export function cappedNote(name: string, input: string): string {
  return `! --${name} ${input} is more than ${MAX_TIMEOUT_SECONDS} s; waiting at most ${MAX_TIMEOUT_SECONDS} s.`;
}

/**
 * What oclif's integer flag makes of `input` within `spec`'s bounds, or `undefined` where it would refuse it.
 */
export function parseInteger(input: string, spec: IntegerSpec): number | undefined {
  if (!/^-?\d+$/.test(input)) return undefined;
  const value = Number.parseInt(input, 10);
  if (spec.min !== undefined && value < spec.min) return undefined;
  if (spec.max !== undefined && value > spec.max) return undefined;
  return value;
}

const ENGINES = ['docker', 'containerd', 'podman', 'all'] as const;

/** Flags of every command that reads daemon.json. */
export const configSpecs = {
  // No `env` here: core reads DOCKMIRROR_CONFIG_FILE itself, so status says the env var chose the file.
  'config-file': {
    kind: 'string',
    summary: 'daemon.json to use instead of the detected one (also: the DOCKMIRROR_CONFIG_FILE environment variable).',
    helpValue: '<path>',
  },
  'state-dir': {
    kind: 'string',
    summary: 'Folder for backups, the journal and the lock (default: .dockmirror/ beside daemon.json).',
    env: 'DOCKMIRROR_STATE_DIR',
    helpValue: '<path>',
  },
} as const satisfies Record<string, FlagSpec>;

/** Flags of every command that talks to the Docker daemon. */
export const daemonSpecs = {
  'docker-host': {
    kind: 'string',
    summary: 'Docker Engine endpoint (default: DOCKER_HOST, the docker context, then the platform default).',
    helpValue: '<url>',
  },
  timeout: {
    kind: 'seconds',
    summary: `Seconds to wait for the daemon to answer, come back and show the change (at most ${MAX_TIMEOUT_SECONDS}).`,
    default: 60,
  },
} as const satisfies Record<string, FlagSpec>;

/** Flags of every command that changes daemon.json. */
export const mutationSpecs = {
  ...configSpecs,
  ...daemonSpecs,
  'dry-run': { kind: 'boolean', summary: 'Show the change as a unified diff and write nothing.' },
  apply: {
    kind: 'option',
    options: ['auto', 'reload', 'restart', 'none'],
    default: 'auto',
    summary: 'How to make the running daemon use the change: auto reloads where it can, restarts only where it must.',
  },
  yes: { kind: 'boolean', char: 'y', summary: 'Agree to a restart that stops running containers, without asking.' },
  'keep-backups': {
    kind: 'integer',
    summary: 'How many backups to keep in the state folder (the one the next rollback needs is always kept).',
    env: 'DOCKMIRROR_KEEP_BACKUPS',
    default: 20,
    min: 1,
  },
} as const satisfies Record<string, FlagSpec>;

/** Flags that choose the engine (`--engine`) and the upstream registry (`--registry`). */
export const engineSpecs = {
  engine: {
    kind: 'option',
    options: ENGINES,
    default: 'docker',
    summary: 'The container engine whose config to change; all is every engine found on this machine, in one change.',
  },
  registry: {
    kind: 'string',
    summary: 'The upstream registry the mirror serves, as in image names (default: docker.io).',
    helpValue: '<host[:port]>',
  },
} as const satisfies Record<string, FlagSpec>;

/** Flags that pin the `pyrsia` or `local` preset to an address. */
export const presetSpecs = {
  host: { kind: 'string', summary: 'Host of the pyrsia or local preset (default: from the Pyrsia CLI, else localhost).' },
  port: { kind: 'integer', summary: 'Port of the pyrsia or local preset (default: from the Pyrsia CLI, else 7888).', min: 1, max: 65535 },
} as const satisfies Record<string, FlagSpec>;

/** `mirror add <mirror>`. */
export const mirrorAddSpec = {
  args: { mirror: { required: true, description: 'Mirror URL (http:// or https://) or preset name (pyrsia, local, gcr, or your own).' } },
  flags: {
    ...mutationSpecs,
    ...engineSpecs,
    ...presetSpecs,
    position: { kind: 'option', options: ['first', 'last'], default: 'first', summary: 'Where the mirror goes in the list.' },
    insecure: { kind: 'boolean', default: true, allowNo: true, summary: 'For an http:// mirror, also add its host:port to insecure-registries.' },
  },
} as const satisfies CommandSpec;

/** `mirror remove <mirror>`. */
export const mirrorRemoveSpec = {
  args: { mirror: { required: true, description: 'Mirror URL as it is in daemon.json, or a preset name.' } },
  flags: { ...mutationSpecs, ...engineSpecs, ...presetSpecs },
} as const satisfies CommandSpec;

/** `mirror list`. */
export const mirrorListSpec = {
  args: {},
  flags: {
    ...configSpecs,
    ...engineSpecs,
    'docker-host': { kind: 'string', summary: 'Docker Engine endpoint to ask for the live column.', helpValue: '<url>' },
    live: { kind: 'boolean', default: true, allowNo: true, summary: 'Ask the running daemon what it uses.' },
  },
} as const satisfies CommandSpec;

/** `status`. */
export const statusSpec = {
  args: {},
  flags: {
    ...configSpecs,
    engine: { kind: 'option', options: ENGINES, summary: 'Also show this engine\'s mirrors per registry (all: every engine found here).' },
    registry: engineSpecs.registry,
    'docker-host': { kind: 'string', summary: 'Docker Engine endpoint.', helpValue: '<url>' },
  },
} as const satisfies CommandSpec;

/** Core options shared by every mutating command, taken from parsed flags. */
export function mutationOptions(flags: {
  'config-file'?: string | undefined;
  'state-dir'?: string | undefined;
  'docker-host'?: string | undefined;
  timeout: number;
  'dry-run'?: boolean | undefined;
  apply: 'auto' | 'reload' | 'restart' | 'none';
  yes?: boolean | undefined;
  'keep-backups': number;
}) {
  return {
    ...configOptions(flags),
    ...(flags['docker-host'] ? { dockerHost: flags['docker-host'] } : {}),
    // Never 0 ms, which some timers read as no timeout at all.
    timeoutMs: Math.max(1, Math.round(flags.timeout * 1000)),
    dryRun: flags['dry-run'],
    apply: flags.apply,
    yes: flags.yes,
    keepBackups: flags['keep-backups'],
  };
}

/** Core options for the file and state folder, taken from parsed flags. */
export function configOptions(flags: { 'config-file'?: string | undefined; 'state-dir'?: string | undefined }) {
  return {
    ...(flags['config-file'] ? { configFile: flags['config-file'] } : {}),
    ...(flags['state-dir'] ? { stateDir: flags['state-dir'] } : {}),
  };
}

/** Core options for the engine and registry, taken from parsed flags. */
export function engineOptions(flags: { engine: 'docker' | 'containerd' | 'podman' | 'all'; registry?: string | undefined }) {
  return { engine: flags.engine, ...(flags.registry === undefined ? {} : { registry: flags.registry }) };
}

/** Core options for preset addresses, taken from parsed flags. */
export function presetOptions(flags: { host?: string | undefined; port?: number | undefined }) {
  return {
    ...(flags.host === undefined ? {} : { host: flags.host }),
    ...(flags.port === undefined ? {} : { port: flags.port }),
  };
}
