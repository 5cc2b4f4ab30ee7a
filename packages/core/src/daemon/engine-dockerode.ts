/**
 * The dockerode-backed {@link Engine}. Kept apart from engine.ts so the public types carry no runtime import.
 */
import type Dockerode from 'dockerode';
import { DaemonError, DaemonUnreachableError, DockmirrorError } from '../errors.js';
import type { Engine, EngineInfo, EngineVersion, ImageSummary, RunningContainer } from './engine.js';
import { type LiveRegistry, liveRegistryFromInfo } from './registry-config.js';

/** Abortable call shapes dockerode supports at runtime but its type definitions omit. */
type WithSignal = { abortSignal: AbortSignal };
type Abortable<T> = (options: WithSignal) => Promise<T>;

/** Error codes Node reports when nothing listens at the endpoint or the connection drops. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ETIMEDOUT', 'EACCES', 'ENOTFOUND']);

/** @internal Use {@link createEngine}. */
export class DockerodeEngine implements Engine {
  #client: Promise<Dockerode> | undefined;

  constructor(
    readonly endpoint: string,
    private readonly modemOptions: Dockerode.DockerOptions,
    private readonly defaultTimeoutMs: number,
    private readonly pullTimeoutMs: number,
  ) {}

  async ping(timeoutMs = this.defaultTimeoutMs): Promise<boolean> {
    try {
      const docker = await this.client();
      const body = await (docker.ping as Abortable<unknown>).call(docker, { abortSignal: AbortSignal.timeout(timeoutMs) });
      return String(body) === 'OK';
    } catch {
      return false;
    }
  }

  async waitForPing(timeoutMs: number, onTick?: (elapsedMs: number) => void): Promise<boolean> {
    const start = Date.now();
    for (;;) {
      const left = timeoutMs - (Date.now() - start);
      if (await this.ping(Math.max(100, Math.min(left, 2_000)))) return true;
      const elapsed = Date.now() - start;
      onTick?.(elapsed);
      if (elapsed >= timeoutMs) return false;
      // A refused connection returns at once; sleep so a restarting daemon is not hammered.
      await new Promise((r) => setTimeout(r, Math.min(200, timeoutMs - elapsed)));
    }
  }

  version(timeoutMs = this.defaultTimeoutMs): Promise<EngineVersion> {
    return this.call('GET /version', timeoutMs, (d, s) => (d.version as unknown as Abortable<EngineVersion>).call(d, s));
  }

  info(timeoutMs = this.defaultTimeoutMs): Promise<EngineInfo> {
    return this.call('GET /info', timeoutMs, (d, s) => (d.info as Abortable<EngineInfo>).call(d, s));
  }

  async liveRegistry(timeoutMs = this.defaultTimeoutMs): Promise<LiveRegistry> {
    return liveRegistryFromInfo(await this.info(timeoutMs));
  }

  async pull(ref: string, timeoutMs = this.pullTimeoutMs): Promise<void> {
    await this.call(`pull ${ref}`, timeoutMs, async (docker, signal) => {
      const stream = await docker.pull(ref, signal);
      // The HTTP status is 200 even when the pull fails; the failure arrives as an `error` line in the stream.
      const events = await new Promise<unknown[]>((resolve, reject) => {
        docker.modem.followProgress(stream, (err: Error | null, out: unknown[]) => (err ? reject(err) : resolve(out)));
      });
      const failed = events.find((e) => typeof e === 'object' && e !== null && 'error' in e) as { error?: unknown } | undefined;
      if (failed) {
        throw new DaemonError(`docker pull ${ref} failed: ${String(failed.error)}`, {
          details: { ref, daemonError: String(failed.error) },
          hint: 'Check the mirror and the daemon log.',
        });
      }
    });
  }

  async inspectImage(ref: string, timeoutMs = this.defaultTimeoutMs): Promise<ImageSummary | undefined> {
    try {
      const data = await this.call(`inspect image ${ref}`, timeoutMs, (d, s) =>
        (d.getImage(ref).inspect as unknown as Abortable<Dockerode.ImageInspectInfo>).call(d.getImage(ref), s),
      );
      return { id: data.Id, repoDigests: data.RepoDigests ?? [], repoTags: data.RepoTags ?? [] };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async removeImage(ref: string, timeoutMs = this.defaultTimeoutMs): Promise<boolean> {
    try {
      await this.call(`remove image ${ref}`, timeoutMs, (d, s) => d.getImage(ref).remove(s));
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  async listRunningContainers(timeoutMs = this.defaultTimeoutMs): Promise<RunningContainer[]> {
    const list = await this.call('list containers', timeoutMs, (d, s) => d.listContainers(s));
    return list.map((c) => ({ id: c.Id, names: c.Names.map((n) => n.replace(/^\//, '')), image: c.Image, status: c.Status }));
  }

  /** Run one API call with a deadline; connection failures and timeouts become {@link DaemonUnreachableError}. */
  private async call<T>(what: string, timeoutMs: number, run: (docker: Dockerode, opts: WithSignal) => Promise<T>): Promise<T> {
    const docker = await this.client();
    try {
      return await run(docker, { abortSignal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      if (error instanceof DockmirrorError || statusOf(error) !== undefined) throw wrapHttp(what, error);
      const code = (error as { code?: unknown }).code;
      const timedOut = (error as { name?: unknown }).name === 'AbortError' || (error as { name?: unknown }).name === 'TimeoutError';
      if (timedOut || (typeof code === 'string' && CONNECTION_CODES.has(code))) {
        throw new DaemonUnreachableError(
          timedOut
            ? `The Docker daemon at ${this.endpoint} did not answer ${what} within ${timeoutMs} ms.`
            : `Cannot reach the Docker daemon at ${this.endpoint} (${String(code)}).`,
          {
            cause: error,
            hint: 'Is Docker running? Check DOCKER_HOST / the docker context, or pass --docker-host.',
            details: { endpoint: this.endpoint, request: what },
          },
        );
      }
      throw error;
    }
  }

  private client(): Promise<Dockerode> {
    this.#client ??= import('dockerode').then((m) => new m.default(this.modemOptions));
    return this.#client;
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** HTTP errors keep `statusCode` in details so callers (verify) can branch on 404 and friends. */
function wrapHttp(what: string, error: unknown): unknown {
  if (error instanceof DockmirrorError) return error;
  const statusCode = statusOf(error);
  const json = (error as { json?: { message?: unknown } }).json;
  const message = typeof json?.message === 'string' ? json.message : String((error as Error).message);
  return Object.assign(
    new DaemonError(`The Docker daemon refused ${what}: ${message}`, {
      cause: error,
      hint: 'See the daemon log (dockmirror status says where it is).',
      details: { request: what, statusCode },
    }),
    { statusCode },
  );
}
