import { existsSync } from 'node:fs';
import { DaemonUnreachableError } from '../errors.js';
import type { CommonOptions } from '../operations/options.js';
import { resolveDockerHost, type ResolvedDockerHost } from '../daemon/endpoint.js';
import { createEngine, type Engine, type EngineInfo } from '../daemon/engine.js';
import { detectSetup, type DaemonSetup } from '../daemon/setup.js';

/** A daemon that answered, with the facts every daemon-facing step needs. */
export interface DaemonConnection {
  /** The endpoint and how it was chosen. */
  endpoint: string;
  /** Where the endpoint came from (option, DOCKER_HOST, context, default). */
  endpointSource: ResolvedDockerHost['source'];
  /** The client. */
  engine: Engine;
  /** dockerd's version, e.g. `20.10.24+dfsg1`. */
  version: string;
  /** `GET /info`. */
  info: EngineInfo;
  /** How the daemon is run, and so how it is told. */
  setup: DaemonSetup;
}

/** Options for {@link connectDaemon}. */
export interface ConnectOptions extends CommonOptions {
  /** Docker Engine endpoint; default DOCKER_HOST, the docker context, then the platform's. */
  dockerHost?: string;
}

/**
 * Finds and greets the daemon: resolves the endpoint, pings it, reads its version and info, and detects its
 * setup. With `lenient`, a daemon that does not answer gives `undefined` (for commands that can work without
 * one); otherwise it is a {@link DaemonUnreachableError}.
 */
export async function connectDaemon(options: ConnectOptions, lenient: boolean): Promise<DaemonConnection | undefined> {
  const resolved = await resolveDockerHost(options);
  const engine = createEngine(resolved.endpoint);
  if (socketMissing(resolved.endpoint) || !(await engine.ping(3_000))) {
    if (lenient) return undefined;
    throw new DaemonUnreachableError(`No Docker daemon answers at ${resolved.endpoint} (from ${resolved.source}).`, {
      hint: 'Start Docker, or point --docker-host / DOCKER_HOST at the running daemon, or pass --apply none.',
      details: { endpoint: resolved.endpoint },
    });
  }
  const [version, info] = await Promise.all([engine.version(), engine.info()]);
  const setup = await detectSetup({ endpoint: resolved.endpoint, info, ...(options.env ? { env: options.env } : {}) });
  return { endpoint: resolved.endpoint, endpointSource: resolved.source, engine, version: version.Version, info, setup };
}

/**
 * Whether the endpoint is a unix socket with no file behind it: then no daemon can answer, and saying so
 * at once spares a connection attempt.
 */
export function socketMissing(endpoint: string): boolean {
  return endpoint.startsWith('unix://') && !existsSync(endpoint.slice('unix://'.length) || '/var/run/docker.sock');
}
