import { Errors, Flags } from '@oclif/core';
import { toScreen } from './output.js';

/**
 * The longest any timeout may be. Past setTimeout's range (about 24.8 days) a timer fires at once, so a huge
 * value would mean no wait at all; an hour is far beyond any daemon restart or registry probe.
 */
export const MAX_TIMEOUT_SECONDS = 3600;

/**
 * A flag of seconds, fractions allowed, more than 0. A value that is not a number, or not above 0, is a usage
 * error (exit 2): oclif maps only its own CLIError from a flag parser to exit 2, any other error is a bug. A value
 * above {@link MAX_TIMEOUT_SECONDS} (a typo, or "wait forever") is capped, with a note on stderr.
 */
export const secondsFlag = Flags.custom<number>({
  helpValue: '<seconds>',
  parse: async (input, _context, flag) => {
    const text = input.trim();
    const seconds = /^(\d+\.?\d*|\.\d+)(e\+?\d+)?$/i.test(text) ? Number(text) : Number.NaN;
    if (!(seconds > 0)) {
      throw new Errors.CLIError(`--${flag.name} ${input} is not a number of seconds above 0`);
    }
    if (seconds > MAX_TIMEOUT_SECONDS) {
      process.stderr.write(`${toScreen(`! --${flag.name} ${input} is more than ${MAX_TIMEOUT_SECONDS} s; waiting at most ${MAX_TIMEOUT_SECONDS} s.`)}\n`);
      return MAX_TIMEOUT_SECONDS;
    }
    return seconds;
  },
});

/** Flags of every command that reads daemon.json. */
export const configFlags = {
  // No oclif `env` here: core reads DOCKMIRROR_CONFIG_FILE itself, so status says the env var chose the file.
  'config-file': Flags.string({
    summary: 'daemon.json to use instead of the detected one (also: the DOCKMIRROR_CONFIG_FILE environment variable).',
    helpValue: '<path>',
  }),
  'state-dir': Flags.string({
    summary: 'Folder for backups, the journal and the lock (default: .dockmirror/ beside daemon.json).',
    env: 'DOCKMIRROR_STATE_DIR',
    helpValue: '<path>',
  }),
};

/** Flags of every command that talks to the Docker daemon. */
export const daemonFlags = {
  'docker-host': Flags.string({
    summary: 'Docker Engine endpoint (default: DOCKER_HOST, the docker context, then the platform default).',
    helpValue: '<url>',
  }),
  timeout: secondsFlag({
    summary: `Seconds to wait for the daemon to answer, come back and show the change (at most ${MAX_TIMEOUT_SECONDS}).`,
    default: 60,
  }),
};

/** Flags of every command that changes daemon.json. */
export const mutationFlags = {
  ...configFlags,
  ...daemonFlags,
  'dry-run': Flags.boolean({ summary: 'Show the change as a unified diff and write nothing.' }),
  apply: Flags.option({
    options: ['auto', 'reload', 'restart', 'none'] as const,
    default: 'auto' as const,
    summary: 'How to make the running daemon use the change: auto reloads where it can, restarts only where it must.',
  })(),
  yes: Flags.boolean({ char: 'y', summary: 'Agree to a restart that stops running containers, without asking.' }),
  'keep-backups': Flags.integer({
    summary: 'How many backups to keep in the state folder (the one the next rollback needs is always kept).',
    env: 'DOCKMIRROR_KEEP_BACKUPS',
    default: 20,
    min: 1,
  }),
};

/** Core options shared by every mutating command, taken from parsed flags. */
export function mutationOptions(flags: {
  'config-file'?: string | undefined;
  'state-dir'?: string | undefined;
  'docker-host'?: string | undefined;
  timeout: number;
  'dry-run': boolean;
  apply: 'auto' | 'reload' | 'restart' | 'none';
  yes: boolean;
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

/** Flags that choose the engine (`--engine`) and the upstream registry (`--registry`). */
export const engineFlags = {
  engine: Flags.option({
    options: ['docker', 'containerd', 'podman', 'all'] as const,
    default: 'docker' as const,
    summary: 'The container engine whose config to change; all is every engine found on this machine, in one change.',
  })(),
  registry: Flags.string({
    summary: 'The upstream registry the mirror serves, as in image names (default: docker.io).',
    helpValue: '<host[:port]>',
  }),
};

/** Core options for the engine and registry, taken from parsed flags. */
export function engineOptions(flags: { engine: 'docker' | 'containerd' | 'podman' | 'all'; registry?: string | undefined }) {
  return { engine: flags.engine, ...(flags.registry === undefined ? {} : { registry: flags.registry }) };
}

/** Flags that pin the `pyrsia` or `local` preset to an address. */
export const presetFlags = {
  host: Flags.string({ summary: 'Host of the pyrsia or local preset (default: from the Pyrsia CLI, else localhost).' }),
  port: Flags.integer({ summary: 'Port of the pyrsia or local preset (default: from the Pyrsia CLI, else 7888).', min: 1, max: 65535 }),
};

/** Core options for preset addresses, taken from parsed flags. */
export function presetOptions(flags: { host?: string | undefined; port?: number | undefined }) {
  return {
    ...(flags.host === undefined ? {} : { host: flags.host }),
    ...(flags.port === undefined ? {} : { port: flags.port }),
  };
}
