/**
 * A small Engine API client over dockerode, with a timeout on every call and connection failures turned into
 * {@link DaemonUnreachableError}. dockerode is loaded on first use, so commands that never reach the daemon
 * (list without a daemon socket, presets, backups, dry runs) do not pay for loading it.
 */
import type Dockerode from 'dockerode';
import { UsageError } from '../errors.js';
import { DockerodeEngine } from './engine-dockerode.js';
import type { LiveRegistry } from './registry-config.js';

/** The subset of `GET /version` dockmirror reads. */
export interface EngineVersion {
  /** Server version, e.g. `20.10.24+dfsg1`. */
  Version: string;
  /** Highest API version the server speaks. */
  ApiVersion: string;
  /** `linux` or `windows`. */
  Os: string;
  [key: string]: unknown;
}

/** The subset of `GET /info` dockmirror reads; the rest is passed through. */
export interface EngineInfo {
  /** e.g. `Debian GNU/Linux 12 (bookworm)` or `Docker Desktop`. */
  OperatingSystem?: string;
  /** e.g. `name=seccomp,profile=default`, `name=rootless`. */
  SecurityOptions?: string[];
  /** Whether containers survive a daemon restart. */
  LiveRestoreEnabled?: boolean;
  /** Server version. */
  ServerVersion?: string;
  /** Registry settings in effect. */
  RegistryConfig?: unknown;
  [key: string]: unknown;
}

/** A local image, or what is left of it for verification. */
export interface ImageSummary {
  /** Image ID (`sha256:...`). */
  id: string;
  /** `repo@sha256:...` entries: the registry manifest digests the image was pulled by. */
  repoDigests: string[];
  /** `repo:tag` entries. */
  repoTags: string[];
}

/** A running container, enough to tell whether an apply disturbed it. */
export interface RunningContainer {
  /** Full container ID. */
  id: string;
  /** Names without the leading slash. */
  names: string[];
  /** Image as the container was created from. */
  image: string;
  /** Human status, e.g. `Up 3 minutes`. */
  status: string;
}

/** Everything dockmirror asks of a Docker daemon; implemented by {@link createEngine}. */
export interface Engine {
  /** The endpoint this engine talks to. */
  readonly endpoint: string;
  /** True when `GET /_ping` answers 200 within `timeoutMs`; never throws for connection problems. */
  ping(timeoutMs?: number): Promise<boolean>;
  /** Ping until it answers or `timeoutMs` passes; `onTick` gets the elapsed ms after each failed try. */
  waitForPing(timeoutMs: number, onTick?: (elapsedMs: number) => void): Promise<boolean>;
  /** `GET /version`. */
  version(timeoutMs?: number): Promise<EngineVersion>;
  /** `GET /info`. */
  info(timeoutMs?: number): Promise<EngineInfo>;
  /** The registry settings the daemon really uses, from `GET /info`. */
  liveRegistry(timeoutMs?: number): Promise<LiveRegistry>;
  /** Pull an image; rejects with the daemon's message when the pull fails. */
  pull(ref: string, timeoutMs?: number): Promise<void>;
  /** Inspect a local image; `undefined` when it is not there. */
  inspectImage(ref: string, timeoutMs?: number): Promise<ImageSummary | undefined>;
  /** Remove a local image; false when it was not there. */
  removeImage(ref: string, timeoutMs?: number): Promise<boolean>;
  /** Containers currently running. */
  listRunningContainers(timeoutMs?: number): Promise<RunningContainer[]>;
}

/** Options of {@link createEngine}. */
export interface CreateEngineOptions {
  /** Timeout of calls that do not name one; default 10 s. */
  defaultTimeoutMs?: number;
  /** Timeout of a pull; default 5 minutes. */
  pullTimeoutMs?: number;
}

/**
 * Build dockerode connection options from an endpoint URL. Every field is set explicitly because docker-modem
 * otherwise merges in `DOCKER_HOST` from the environment, which may name a different daemon.
 */
export function connectionOptions(endpoint: string): Dockerode.DockerOptions {
  const none = { host: undefined, port: undefined, socketPath: undefined, ca: undefined, cert: undefined, key: undefined };
  if (endpoint.startsWith('unix://')) {
    return { ...none, socketPath: endpoint.slice('unix://'.length) || '/var/run/docker.sock', protocol: 'http' };
  }
  if (endpoint.startsWith('npipe://')) {
    return { ...none, socketPath: endpoint.slice('npipe://'.length) || '//./pipe/docker_engine', protocol: 'http' };
  }
  if (endpoint.startsWith('tcp://') || endpoint.startsWith('http://')) {
    const url = new URL(endpoint.replace(/^tcp:/, 'http:'));
    return { ...none, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || '2375', protocol: 'http' };
  }
  throw new UsageError(`Unsupported Docker endpoint "${endpoint}".`, {
    hint: 'Use unix://, npipe:// or tcp:// (plain http); for ssh:// or TLS, point DOCKER_HOST at a local socket.',
    details: { endpoint },
  });
}

/** Create an {@link Engine} for `endpoint`; no connection is made until the first call. */
export function createEngine(endpoint: string, options: CreateEngineOptions = {}): Engine {
  const modemOptions = connectionOptions(endpoint);
  return new DockerodeEngine(endpoint, modemOptions, options.defaultTimeoutMs ?? 10_000, options.pullTimeoutMs ?? 300_000);
}
