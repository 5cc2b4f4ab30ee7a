/**
 * What dockmirror asks of a Docker Engine, and where the Engine is. The client itself (engine-http.ts) is a few
 * HTTP/1.1 calls (http1.ts) with a deadline and a byte bound on every response, because an endpoint may be
 * anyone's socket: a general-purpose client (dockerode) buffers whole bodies and an endless one exhausts memory.
 */
import { UsageError } from '../errors.js';
import { type EngineAddress, HttpEngine } from './engine-http.js';
import type { LiveRegistry } from './registry-config.js';

export type { EngineAddress } from './engine-http.js';

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

/** What {@link Engine.greeting} asked, under way. */
export interface Greeting {
  /** Whether `/_ping` answered OK in time (as {@link Engine.ping}). */
  answered: Promise<boolean>;
  /** `GET /version`. */
  version: Promise<EngineVersion>;
  /** `GET /info`. */
  info: Promise<EngineInfo>;
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

/**
 * Everything dockmirror asks of a Docker daemon; implemented by {@link createEngine}. Every call has a deadline
 * and a size bound: a daemon that does not answer in time is a DaemonUnreachableError, one that answers too
 * much, or not in HTTP and JSON, a DaemonError.
 */
export interface Engine {
  /** The endpoint this engine talks to. */
  readonly endpoint: string;
  /** True when `GET /_ping` answers 200 within `timeoutMs`; never throws for connection problems, except for a named pipe the caller may not open (a PermissionDeniedError: the daemon is there, only not for this user). */
  ping(timeoutMs?: number): Promise<boolean>;
  /** Ping until it answers or `timeoutMs` passes; `onTick` gets the elapsed ms after each failed try. */
  waitForPing(timeoutMs: number, onTick?: (elapsedMs: number) => void): Promise<boolean>;
  /** `GET /version`. */
  version(timeoutMs?: number): Promise<EngineVersion>;
  /** `GET /info`. */
  info(timeoutMs?: number): Promise<EngineInfo>;
  /**
   * `/_ping`, `/version` and `/info` asked at once, on one connection: what a greeting needs, for the price of
   * one connection instead of three. The ping has `pingMs` to answer, the others `callMs` each; each result is
   * what {@link Engine.ping}, {@link Engine.version} and {@link Engine.info} would give.
   */
  greeting(pingMs: number, callMs: number): Greeting;
  /**
   * Resolves once every request asked so far is written to its connection, or has failed or been closed before
   * it could be; never rejects. For a caller that asks ahead and then blocks the event loop: the daemon works on
   * what it has meanwhile, while a request still waiting for its connect would wait for the caller too.
   */
  written(): Promise<void>;
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
  /**
   * Subscribe to the daemon's `reload` events (`GET /events`), resolving once the daemon has sent the response
   * headers, so a SIGHUP sent afterwards cannot be missed. dockerd emits the event only for a reload it took.
   * The stream ends by itself after `timeoutMs`; headers that take longer than `headersMs` (default 2 s) are a
   * DaemonUnreachableError, so an endpoint that holds them back cannot hold up the apply.
   */
  watchReloads(timeoutMs: number, headersMs?: number): Promise<ReloadWatch>;
}

/** A live subscription to `reload` events, from {@link Engine.watchReloads}. */
export interface ReloadWatch {
  /** True once a reload event arrived, or as soon as one does within `waitMs`; false when none did. */
  reloaded(waitMs: number): Promise<boolean>;
  /**
   * The registry settings the latest reload event reported (see liveRegistryFromReloadEvent); `undefined`
   * before one arrived, or when it did not carry them.
   */
  reported(): LiveRegistry | undefined;
  /** Ends the subscription. */
  close(): void;
}

/** Options of {@link createEngine}. */
export interface CreateEngineOptions {
  /** Timeout of calls that do not name one; default 10 s. */
  defaultTimeoutMs?: number;
  /** Timeout of a pull; default 5 minutes. */
  pullTimeoutMs?: number;
  /**
   * Largest response body accepted, and largest line of a pull's progress stream; default 8 MiB (a real
   * daemon's `/info` is a few KB). A larger one is a DaemonError.
   */
  maxBodyBytes?: number;
  /**
   * Ends every call in flight, and each one made after, with an InterruptedError once it fires, closing its
   * connection: work abandoned (Ctrl-C, or a daemon greeted ahead of need and then not needed) keeps no socket
   * open, so the process does not wait out a hung daemon's deadline before it can exit.
   */
  signal?: AbortSignal;
}

/** How an endpoint may be written, for hints. */
const ENDPOINT_FORMS = 'unix:///path/to/docker.sock, npipe:////./pipe/docker_engine or tcp://HOST:PORT (plain http)';

/**
 * Where `endpoint` is: a unix socket, a Windows named pipe, or a host and port. `tcp://HOST` means port 2375,
 * as for the docker CLI; an endpoint with no host (`tcp://`), a bad port, a path, or a scheme dockmirror cannot
 * speak (ssh://, TLS) is refused rather than guessed at.
 * @throws UsageError naming the endpoint and how to write one.
 */
export function parseEndpoint(endpoint: string): EngineAddress {
  const refuse = (why: string, hint = `Write it as ${ENDPOINT_FORMS}.`): never => {
    throw new UsageError(`Docker endpoint "${endpoint}" ${why}.`, { hint, details: { endpoint } });
  };
  if (endpoint.includes('\0')) refuse('contains a NUL byte');
  if (endpoint.startsWith('unix://')) return { socketPath: endpoint.slice('unix://'.length) || '/var/run/docker.sock' };
  if (endpoint.startsWith('npipe://')) {
    // The docker CLI writes pipes with forward slashes; Windows wants \\.\pipe\name.
    return { socketPath: (endpoint.slice('npipe://'.length) || '//./pipe/docker_engine').replaceAll('/', '\\') };
  }
  if (endpoint.startsWith('tcp://') || endpoint.startsWith('http://')) {
    const m = /^[a-z]+:\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#@[\]]*)(?::([^/]*))?(\/?.*)$/.exec(endpoint);
    const host = m?.[1]?.replace(/^\[|\]$/g, '') ?? '';
    if (host === '') refuse('names no host', 'Write it as tcp://HOST:PORT, e.g. tcp://127.0.0.1:2375.');
    const portText = m?.[2] || '2375';
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
    if (!(port >= 1 && port <= 65535)) refuse(`has no valid port ("${portText}")`, 'Write it as tcp://HOST:PORT with a port from 1 to 65535.');
    if (m?.[3] !== '' && m?.[3] !== '/') refuse('has a path, which dockmirror does not support', 'Write it as tcp://HOST:PORT.');
    return { host, port };
  }
  return refuse(
    'uses a scheme dockmirror cannot speak',
    'Use unix://, npipe:// or tcp:// (plain http); for ssh:// or TLS, point DOCKER_HOST at a local socket.',
  );
}

/**
 * Create an {@link Engine} for `endpoint`; no connection is made until the first call.
 * @throws UsageError for an endpoint {@link parseEndpoint} refuses.
 */
export function createEngine(endpoint: string, options: CreateEngineOptions = {}): Engine {
  return new HttpEngine(endpoint, parseEndpoint(endpoint), {
    defaultTimeoutMs: options.defaultTimeoutMs ?? 10_000,
    pullTimeoutMs: options.pullTimeoutMs ?? 300_000,
    maxBodyBytes: options.maxBodyBytes ?? 8 * 1024 * 1024,
  }, options.signal);
}
