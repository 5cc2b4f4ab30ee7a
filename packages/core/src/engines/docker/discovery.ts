import { accessSync, constants, existsSync } from 'node:fs';
import { DaemonUnreachableError, PermissionDeniedError } from '../../errors.js';
import type { CommonOptions } from '../../operations/options.js';
import { resolveDockerHost, type ResolvedDockerHost } from '../../daemon/endpoint.js';
import { createEngine, type Engine, type EngineInfo, type EngineVersion } from '../../daemon/engine.js';
import { callCandidates, LISTING_FRESH_MS } from '../../daemon/dockerd-process.js';
import { endpointScan, findFileReader, type FileReader } from '../../daemon/file-reader.js';
import { detectSetup, type DaemonSetup, type DetectSetupOptions } from '../../daemon/setup.js';
import { unixSocketPath } from '../../daemon/socket-proof.js';
import { untilInterrupted } from '../../support/interrupt.js';

/** A daemon that answered, with the facts every daemon-facing step needs. */
export interface DaemonConnection {
  /** The endpoint and how it was chosen. */
  endpoint: string;
  /** Where the endpoint came from (option, DOCKER_HOST, context, default, or the dockerd that reads the file). */
  endpointSource: ResolvedDockerHost['source'] | 'dockerd';
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
  /** Ends every wait at once (Ctrl-C). */
  signal?: AbortSignal;
  /**
   * Closes every connection of the engine this call makes once it fires (see CreateEngineOptions.signal): for a
   * daemon greeted ahead of need, abandoned when the call ends without it.
   */
  abandon?: AbortSignal;
}

/**
 * Finds and greets the daemon: resolves the endpoint, pings it, reads its version and info, and detects its
 * setup. With `lenient`, a daemon that does not answer gives `undefined` (for commands that can work without
 * one); otherwise it is a {@link DaemonUnreachableError}. A socket the caller may not open is a
 * {@link PermissionDeniedError} either way: the daemon is there, only not for this user.
 */
export async function connectDaemon(options: ConnectOptions, lenient: boolean): Promise<DaemonConnection | undefined> {
  const resolved = await resolveDockerHost(options);
  return greet({ ...resolved }, options, lenient, 3_000);
}

/** What {@link connectForFile} found: the daemon that answered, and the dockerd that reads the file. */
export interface FileDaemon {
  /** The daemon that answered, if one did. */
  connection?: DaemonConnection;
  /** The running dockerd that reads the file, if one is visible in /proc. */
  reader?: FileReader;
  /** Why no daemon is told, when none answered and none reads the file. */
  absent?: string;
}

/**
 * One rule for every change: the daemon that reads this file is the one to tell. With no endpoint given (no
 * `--docker-host`, DOCKER_HOST or context), the socket of the trusted dockerd that reads `file` is used. When
 * such a dockerd runs but nothing answers within `timeoutMs` (a hung or stopped daemon, a wrong endpoint), the
 * change is refused before a byte is written: the file and the live config would drift apart.
 * @throws DaemonUnreachableError naming the pid, the socket and the file.
 * @throws PermissionDeniedError when the socket exists but the caller may not open it.
 */
export async function connectForFile(options: ConnectOptions, file: string, timeoutMs: number): Promise<FileDaemon> {
  const resolved = await resolveDockerHost(options);
  // The endpoint already known is asked first, and /proc read while the daemon answers (its /info takes ~10 ms
  // on dockerd 20.10). The listing does not yield, so the three requests are first seen written to their
  // connections: waiting for the ping's answer as well would cost a round trip for nothing. A default endpoint
  // is only a guess (the dockerd that reads the file may listen elsewhere, and then this greeting is dropped
  // unread), so a connection there that is slow to take the requests is not waited for.
  const early = hello(resolved.endpoint, options, timeoutMs);
  if (early) await settledWithin(early.engine.written(), resolved.source === 'default' ? GUESS_WAIT_MS : undefined);
  // One listing of /proc for the whole call: the file's reader and the setup behind the endpoint both use it,
  // and when they look at the same endpoint, the scan that proved it is the setup's too.
  const candidates = process.platform === 'linux' ? callCandidates(options) : undefined;
  // Stryker disable next-line ObjectLiteral: findFileReader would list the same /proc again (only on Linux): timing only
  const reader = await findFileReader(file, { candidates }).catch(dropAndThrow(early));
  const useReader = resolved.source === 'default' && reader?.endpoint !== undefined;
  const target = useReader ? { endpoint: reader.endpoint as string, source: 'dockerd' as const } : resolved;
  const proof = reader?.endpoint === target.endpoint ? endpointScan(reader) : undefined;
  const probe: Probe = { candidates, ...(proof ? { scan: proof } : {}) };
  const asked = early?.endpoint === target.endpoint ? early : (early?.drop(), undefined);
  // A daemon that answers the ping and then hangs (stopped between two calls) is the same as one that does not.
  const connection = await greet(target, options, true, timeoutMs, probe, asked).catch((error: unknown) => {
    if (reader && error instanceof DaemonUnreachableError) return undefined;
    throw error;
  });
  if (connection) return { connection, ...(reader ? { reader } : {}) };
  if (reader) {
    const socket = reader.endpoint ?? reader.hosts.join(', ');
    const details = { endpoint: target.endpoint, pid: reader.pid, socket, file };
    if (target.endpoint !== reader.endpoint) {
      throw new DaemonUnreachableError(
        `dockerd (pid ${reader.pid}) reads ${file} and listens on ${socket}, but the endpoint given, ${target.endpoint} (from ${target.source}), does not answer within ${timeoutMs / 1000} s. Nothing was written.`,
        { hint: `Point --docker-host at ${socket}, the socket it listens on, and run again.`, details },
      );
    }
    throw new DaemonUnreachableError(
      `dockerd (pid ${reader.pid}) reads ${file} and runs, but did not answer at ${socket} within ${timeoutMs / 1000} s. Nothing was written.`,
      {
        hint: `Is it stopped or hung (kill -CONT ${reader.pid}; see its log)? Run again once \`docker -H ${socket} info\` answers, or raise --timeout.`,
        details,
      },
    );
  }
  return { absent: `no Docker daemon answered at ${target.endpoint} and no running dockerd reads ${file}` };
}

/** What this call already found in /proc, for detectSetup: the dockerd pids, and the endpoint's scan if made. */
type Probe = Pick<DetectSetupOptions, 'candidates' | 'scan'>;

/** How long a change waits for a daemon at the default endpoint before it reads /proc (see connectForFile). */
const GUESS_WAIT_MS = 100;

/** The network half of a greeting, under way: `/_ping`, `/version` and `/info`, asked at once. */
interface Hello {
  endpoint: string;
  engine: Engine;
  /** Whether `/_ping` answered OK within its deadline. */
  answered: Promise<boolean>;
  /** `/version` and `/info`, once asked; the first failure, if any. */
  facts: Promise<[EngineVersion, EngineInfo]>;
  /** Closes its connections, for a greeting not needed after all. */
  drop(): void;
}

/**
 * Asks `endpoint` for everything a greeting needs at once: waiting for the ping before asking the rest would
 * cost a round trip, and the rest is only read once the ping said OK. `undefined` when no daemon can be there
 * (a unix socket that does not exist) or the socket may not be opened (for greet to say so).
 */
function hello(endpoint: string, options: ConnectOptions, pingMs: number): Hello | undefined {
  if (socketMissing(endpoint)) return undefined;
  try {
    refuseForbiddenSocket(endpoint);
  } catch {
    return undefined;
  }
  const own = new AbortController();
  const signal = options.abandon ? AbortSignal.any([options.abandon, own.signal]) : own.signal;
  const engine = createEngine(endpoint, { signal });
  const { answered, version, info } = engine.greeting(pingMs, Math.max(pingMs, 3_000));
  const facts = Promise.all([version, info]);
  // Read only after an OK ping; a daemon that is not there fails these too, and that is no news.
  facts.catch(() => undefined);
  return { endpoint, engine, answered, facts, drop: () => own.abort() };
}

async function greet(
  resolved: { endpoint: string; source: DaemonConnection['endpointSource']; context?: string },
  options: ConnectOptions,
  lenient: boolean,
  pingMs: number,
  probe: Probe = {},
  asked?: Hello,
): Promise<DaemonConnection | undefined> {
  const started = Date.now();
  refuseForbiddenSocket(resolved.endpoint);
  const greeting = asked ?? hello(resolved.endpoint, options, pingMs);
  if (!greeting || !(await untilInterrupted(greeting.answered, options.signal).catch(dropAndThrow(greeting)))) {
    greeting?.drop();
    if (lenient) return undefined;
    throw new DaemonUnreachableError(`No Docker daemon answers at ${resolved.endpoint} (from ${resolved.source}).`, {
      hint: 'Start Docker, or point --docker-host / DOCKER_HOST at the running daemon, or pass --apply none.',
      details: { endpoint: resolved.endpoint },
    });
  }
  const { engine } = greeting;
  const [version, info] = await untilInterrupted(greeting.facts, options.signal).catch(dropAndThrow(greeting));
  // What /proc showed before a slow greeting (a daemon restarting, a loaded machine) may be gone: look again, by
  // the same rule as the call's one listing of /proc. (A SIGHUP checks its pid again anyway, right before it goes.)
  const fresh = Date.now() - started < LISTING_FRESH_MS ? probe : {};
  const setup = await detectSetup({
    endpoint: resolved.endpoint,
    info,
    version,
    ...fresh,
    ...(resolved.context ? { context: resolved.context } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.platform ? { platform: options.platform } : {}),
    ...(options.homedir ? { homedir: options.homedir } : {}),
  });
  return { endpoint: resolved.endpoint, endpointSource: resolved.source, engine, version: version.Version, info, setup };
}

/** Resolves once `work` settles (how is for its own reader), or after `ms`; its timer never holds the process. */
function settledWithin(work: Promise<unknown>, ms: number | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
    timer?.unref();
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    void work.then(done, done);
  });
}

/** For a greeting under way when something failed: its calls are closed, and the failure goes on. */
function dropAndThrow(greeting: Hello | undefined): (error: unknown) => never {
  return (error) => {
    greeting?.drop();
    throw error;
  };
}

/**
 * A unix socket that exists but that the caller may not open (connect needs write permission on it) means
 * a daemon that is there for others, not "no daemon": say so, with the fix.
 * @throws PermissionDeniedError with the docker-group hint.
 */
export function refuseForbiddenSocket(endpoint: string): void {
  const socket = unixSocketPath(endpoint);
  // Not existsSync first: it says "missing" for a socket behind a folder the caller may not enter, too.
  if (socket === undefined || endpoint.startsWith('fd://')) return;
  try {
    accessSync(socket, constants.R_OK | constants.W_OK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') return; // ENOENT: no daemon there, said elsewhere.
    throw new PermissionDeniedError(`You may not open the Docker socket ${socket}: permission denied.`, {
      location: { file: socket },
      hint: 'Add yourself to the docker group (sudo usermod -aG docker $USER, then log in again), or run dockmirror as root (sudo).',
      details: { endpoint, socket, errno: 'EACCES' },
    });
  }
}

/**
 * Whether the endpoint is a unix socket with no file behind it: then no daemon can answer, and saying so
 * at once spares a connection attempt.
 */
export function socketMissing(endpoint: string): boolean {
  return endpoint.startsWith('unix://') && !existsSync(endpoint.slice('unix://'.length) || '/var/run/docker.sock');
}
