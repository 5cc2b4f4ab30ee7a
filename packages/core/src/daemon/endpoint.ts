/**
 * Which Docker Engine endpoint to talk to, decided the way the docker CLI decides it, so that dockmirror changes
 * and checks the same daemon `docker info` shows.
 */
import { homedir as osHomedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { readBounded } from '../support/bounded-read.js';
import { sha256Hex } from '../support/sha256.js';

/** The docker CLI's config.json can hold many credentials; a few MiB is far more than any real one. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Where the endpoint came from, strongest first. */
export type DockerHostSource = 'option' | 'DOCKER_HOST' | 'context' | 'default';

/** A resolved Engine API endpoint. */
export interface ResolvedDockerHost {
  /** The endpoint URL, e.g. `unix:///var/run/docker.sock`, `npipe:////./pipe/docker_engine`, `tcp://host:2375`. */
  endpoint: string;
  /** Which rule picked it. */
  source: DockerHostSource;
  /** The docker context name, when a context supplied the endpoint. */
  context?: string;
}

/** Inputs of {@link resolveDockerHost}; everything defaults to the current process so tests can inject it. */
export interface ResolveDockerHostOptions {
  /** An explicit endpoint (the CLI's `--docker-host`); wins over everything else. */
  dockerHost?: string;
  /** Environment to read `DOCKER_HOST`, `DOCKER_CONTEXT` and `DOCKER_CONFIG` from. */
  env?: NodeJS.ProcessEnv;
  /** Home directory holding `.docker/`. */
  homedir?: string;
  /** Platform deciding the default endpoint. */
  platform?: NodeJS.Platform;
}

/** The endpoint dockerd listens on when nobody configured one. */
export function defaultDockerHost(platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? 'npipe:////./pipe/docker_engine' : 'unix:///var/run/docker.sock';
}

/**
 * Resolve the endpoint: explicit option, then `DOCKER_HOST`, then the current docker context (`DOCKER_CONTEXT` or
 * `currentContext` in the CLI config), then the platform default.
 * @throws UsageError when a named context has no metadata (the docker CLI refuses the same way).
 */
export async function resolveDockerHost(options: ResolveDockerHostOptions = {}): Promise<ResolvedDockerHost> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  if (options.dockerHost) return { endpoint: options.dockerHost, source: 'option' };
  if (env.DOCKER_HOST) return { endpoint: env.DOCKER_HOST, source: 'DOCKER_HOST' };

  const configDir = env.DOCKER_CONFIG || join(options.homedir ?? osHomedir(), '.docker');
  const context = env.DOCKER_CONTEXT || (await readCurrentContext(configDir));
  // "default" is the CLI's name for "no context": DOCKER_HOST or the built-in default.
  if (context && context !== 'default') {
    const host = await readContextHost(configDir, context);
    if (host) return { endpoint: host, source: 'context', context };
  }
  return { endpoint: defaultDockerHost(platform), source: 'default' };
}

async function readCurrentContext(configDir: string): Promise<string | undefined> {
  const parsed = await readJson(join(configDir, 'config.json'));
  const current = isRecord(parsed) ? parsed.currentContext : undefined;
  return typeof current === 'string' && current !== '' ? current : undefined;
}

/** The CLI stores each context under the sha256 of its name, so names never need escaping. */
async function readContextHost(configDir: string, context: string): Promise<string | undefined> {
  const digest = sha256Hex(Buffer.from(context));
  const metaFile = join(configDir, 'contexts', 'meta', digest, 'meta.json');
  const meta = await readJson(metaFile);
  if (meta === undefined) {
    throw new UsageError(`Docker context "${context}" does not exist (no readable ${metaFile}).`, {
      hint: 'Run `docker context ls`, then `docker context use <name>`, or pass --docker-host.',
      details: { context, metaFile },
    });
  }
  const endpoints = isRecord(meta) ? meta.Endpoints : undefined;
  const docker = isRecord(endpoints) ? endpoints.docker : undefined;
  const host = isRecord(docker) ? docker.Host : undefined;
  // A context without a docker endpoint behaves like the default one in the CLI.
  return typeof host === 'string' && host !== '' ? host : undefined;
}

/**
 * Missing or unparseable files read as `undefined`: the CLI also ignores a broken config for context lookup.
 * Under sudo these files are the invoking user's, so they are read bounded: a FIFO or /dev/zero there must
 * neither hang nor fill memory.
 */
async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = (await readBounded(file, { maxBytes: MAX_CONFIG_BYTES }))?.toString('utf8') ?? '';
    if (text === '') return undefined;
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
