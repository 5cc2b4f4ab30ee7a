/**
 * The {@link Engine} over HTTP/1.1 (http1.ts). Whoever listens on the endpoint decides what comes back, so every
 * call has one deadline for connect, headers and body together, every body a byte bound, and a pull's progress
 * stream a bound on each line (and no memory of the lines already seen). Kept apart from engine.ts so the public
 * types carry no runtime code.
 */
import { StringDecoder } from 'node:string_decoder';
import { DaemonError, DaemonUnreachableError, DockmirrorError, PermissionDeniedError } from '../errors.js';
import type { Engine, EngineInfo, EngineVersion, Greeting, ImageSummary, ReloadWatch, RunningContainer } from './engine.js';
import { sendGets, sendRequest, type ResponseHandlers } from './http1.js';
import { pipeDenied, pipeErrorKind } from './pipe-errors.js';
import { interrupted } from '../support/interrupt.js';
import { type LiveRegistry, liveRegistryFromInfo, liveRegistryFromReloadEvent } from './registry-config.js';

/** Where an Engine listens: a unix socket or Windows named pipe, or a host and port. */
export type EngineAddress = { socketPath: string } | { host: string; port: number };

/** Deadlines and bounds of an {@link HttpEngine}. */
export interface EngineLimits {
  /** Deadline of a call that names none. */
  defaultTimeoutMs: number;
  /** Deadline of a whole pull. */
  pullTimeoutMs: number;
  /** Largest body, and largest progress line, accepted. */
  maxBodyBytes: number;
}

/** Error codes Node reports when nothing listens at the endpoint or the connection drops. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ETIMEDOUT', 'EACCES', 'ENOTFOUND', 'ENETUNREACH',
  'EADDRNOTAVAIL', 'ECONNABORTED', 'ENOTSOCK', 'ENOTDIR', 'EAI_AGAIN', 'ENAMETOOLONG',
]);

/** A body to read: chunks as they come, then a result from the status code. */
interface BodyReader<T> {
  chunk(data: Buffer, status: number): void;
  end(status: number): T;
}

/** A reload event is a few hundred bytes; one line longer than this is not a daemon's. */
const MAX_EVENT_LINE_BYTES = 64 * 1024;

/** Events only for reloads were asked for; a stream with more lines than this in one apply is not a daemon's. */
const MAX_EVENT_LINES = 1_000;

/** The timer fired: told apart from connection errors by identity. */
const TIMED_OUT = new Error('deadline');

/** The engine's signal fired (see CreateEngineOptions.signal). */
const ABORTED = new Error('aborted');

/** @internal Use createEngine. */
export class HttpEngine implements Engine {
  constructor(
    readonly endpoint: string,
    private readonly address: EngineAddress,
    private readonly limits: EngineLimits,
    private readonly signal?: AbortSignal,
  ) {}

  /** The requests not yet written to their connections (see {@link written}). */
  private readonly unsent = new Set<Promise<void>>();

  written(): Promise<void> {
    return Promise.all(this.unsent).then(() => undefined);
  }

  /** Counts one more request as not yet written; the function returned marks it written (see sendRequest's `sent`). */
  private leaving(): () => void {
    let sent = (): void => undefined;
    const leaving = new Promise<void>((resolve) => (sent = resolve));
    this.unsent.add(leaving);
    void leaving.then(() => this.unsent.delete(leaving));
    return sent;
  }

  ping(timeoutMs = this.limits.defaultTimeoutMs): Promise<boolean> {
    // `OK` is all a daemon answers; a few bytes more are someone else.
    return this.pinged(this.exchange('GET /_ping', 'GET', '/_ping', timeoutMs, this.collect(64)));
  }

  /** What a `/_ping` exchange says: OK, or not (a failure too), or a PermissionDeniedError. */
  private async pinged(exchange: Promise<{ status: number; text: string }>): Promise<boolean> {
    try {
      const { status, text } = await exchange;
      return status === 200 && text === 'OK';
    } catch (error) {
      // A pipe the caller may not open is a daemon that is there: "no daemon, takes effect later" would be false.
      if (error instanceof PermissionDeniedError) throw error;
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

  version(timeoutMs = this.limits.defaultTimeoutMs): Promise<EngineVersion> {
    return this.json<EngineVersion>('GET /version', 'GET', '/version', timeoutMs, isRecord);
  }

  info(timeoutMs = this.limits.defaultTimeoutMs): Promise<EngineInfo> {
    return this.json<EngineInfo>('GET /info', 'GET', '/info', timeoutMs, isRecord);
  }

  greeting(pingMs: number, callMs: number): Greeting {
    const ping = this.call('GET /_ping', pingMs, this.collect(64));
    const version = this.call('GET /version', callMs, this.collect(this.limits.maxBodyBytes, 'GET /version'));
    const info = this.call('GET /info', callMs, this.collect(this.limits.maxBodyBytes, 'GET /info'));
    const closers = sendGets(this.address, [
      { path: '/_ping', handlers: ping.handlers },
      { path: '/version', handlers: version.handlers },
      { path: '/info', handlers: info.handlers },
    ]);
    [ping, version, info].forEach((call, i) => call.attach(closers[i] as () => void));
    return {
      answered: this.pinged(ping.result),
      version: this.jsonOf<EngineVersion>('GET /version', version.result, isRecord),
      info: this.jsonOf<EngineInfo>('GET /info', info.result, isRecord),
    };
  }

  async liveRegistry(timeoutMs = this.limits.defaultTimeoutMs): Promise<LiveRegistry> {
    return liveRegistryFromInfo(await this.info(timeoutMs));
  }

  async pull(ref: string, timeoutMs = this.limits.pullTimeoutMs): Promise<void> {
    const what = `pull ${ref}`;
    const { repository, tag } = splitRef(ref);
    const query = new URLSearchParams({ fromImage: repository, tag });
    // The HTTP status is 200 even when the pull fails; the failure arrives as an `error` line in the stream.
    const failed = await this.exchange(what, 'POST', `/images/create?${query}`, timeoutMs, this.progress(what));
    if (failed !== undefined) {
      throw new DaemonError(`docker pull ${ref} failed: ${failed}`, {
        details: { ref, daemonError: failed },
        hint: 'Check the mirror and the daemon log.',
      });
    }
  }

  async inspectImage(ref: string, timeoutMs = this.limits.defaultTimeoutMs): Promise<ImageSummary | undefined> {
    try {
      const data = await this.json<Record<string, unknown>>(`inspect image ${ref}`, 'GET', `/images/${pathPart(ref)}/json`, timeoutMs, isRecord);
      return { id: String(data.Id ?? ''), repoDigests: strings(data.RepoDigests), repoTags: strings(data.RepoTags) };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async removeImage(ref: string, timeoutMs = this.limits.defaultTimeoutMs): Promise<boolean> {
    try {
      await this.json(`remove image ${ref}`, 'DELETE', `/images/${pathPart(ref)}`, timeoutMs, Array.isArray);
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  async listRunningContainers(timeoutMs = this.limits.defaultTimeoutMs): Promise<RunningContainer[]> {
    const list = await this.json<unknown[]>('list containers', 'GET', '/containers/json', timeoutMs, Array.isArray);
    return list.filter(isRecord).map((c) => ({
      id: String(c.Id ?? ''),
      names: strings(c.Names).map((n) => n.replace(/^\//, '')),
      image: String(c.Image ?? ''),
      status: String(c.Status ?? ''),
    }));
  }

  watchReloads(timeoutMs: number, headersMs = Math.min(timeoutMs, 2_000)): Promise<ReloadWatch> {
    const filters = JSON.stringify({ type: ['daemon'], event: ['reload'] });
    return new Promise<ReloadWatch>((resolve, reject) => {
      let seen = false;
      let reported: LiveRegistry | undefined;
      let lines = 0;
      let pending = '';
      const waiters = new Set<() => void>();
      const wake = (): void => {
        for (const w of waiters) w();
        waiters.clear();
      };
      const decoder = new StringDecoder('utf8');
      let ended = false;
      let closeConnection = (): void => undefined;
      const close = (): void => {
        clearTimeout(timer);
        clearTimeout(headersTimer);
        this.signal?.removeEventListener('abort', onAbort);
        closeConnection();
        ended = true;
        wake();
      };
      const onAbort = (): void => {
        close();
        reject(interrupted());
      };
      const timer = setTimeout(close, timeoutMs);
      // A daemon sends the headers at once; an endpoint that does not must not hold up the apply.
      const headersTimer = setTimeout(() => {
        close();
        reject(this.failure('GET /events', headersMs, TIMED_OUT));
      }, headersMs);
      const watch: ReloadWatch = {
        reloaded: (waitMs) =>
          seen || ended
            ? Promise.resolve(seen)
            : new Promise<boolean>((done) => {
                const waiter = (): void => {
                  clearTimeout(wait);
                  done(seen);
                };
                const wait = setTimeout(() => {
                  waiters.delete(waiter);
                  done(seen);
                }, waitMs);
                waiters.add(waiter);
              }),
        reported: () => reported,
        close,
      };
      closeConnection = sendRequest(this.address, 'GET', `/events?${new URLSearchParams({ filters })}`, {
        sent: this.leaving(),
        head: (status) => {
          clearTimeout(headersTimer);
          if (status === 200) return resolve(watch);
          close();
          reject(httpError(this.endpoint, 'GET /events', status, undefined, ''));
        },
        body: (data) => {
          pending += decoder.write(data);
          // Only reload events were asked for; a line past the bound, or more lines than a few reloads give, is
          // not a daemon's event stream, and ends it.
          for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n')) {
            const event = parseJson(pending.slice(0, end))?.value;
            pending = pending.slice(end + 1);
            if (isRecord(event) && event.Type === 'daemon' && event.Action === 'reload') {
              seen = true;
              reported = liveRegistryFromReloadEvent(event);
            }
            if (++lines > MAX_EVENT_LINES) close();
          }
          if (pending.length > MAX_EVENT_LINE_BYTES) close();
          if (seen) wake();
        },
        end: close,
        fail: (error) => {
          close();
          reject(this.failure('GET /events', timeoutMs, error));
        },
      });
      if (this.signal?.aborted) onAbort();
      else this.signal?.addEventListener('abort', onAbort);
    });
  }

  /** A JSON call: a 2xx body of the expected shape, else a {@link DaemonError} carrying the status code. */
  private json<T>(what: string, method: string, path: string, timeoutMs: number, shape: (v: unknown) => boolean): Promise<T> {
    return this.jsonOf<T>(what, this.exchange(what, method, path, timeoutMs, this.collect(this.limits.maxBodyBytes, what)), shape);
  }

  /** What {@link json} makes of an exchange's answer. */
  private async jsonOf<T>(what: string, exchange: Promise<{ status: number; text: string }>, shape: (v: unknown) => boolean): Promise<T> {
    const { status, text } = await exchange;
    const body = parseJson(text);
    if (status < 200 || status > 299) throw httpError(this.endpoint, what, status, body, text);
    if (body === undefined || !shape(body.value)) {
      throw new DaemonError(`The endpoint ${this.endpoint} answered ${what} with something that is not Docker's JSON.`, {
        hint: 'Is this endpoint really a Docker daemon? Check DOCKER_HOST / the docker context, or pass --docker-host.',
        details: { endpoint: this.endpoint, request: what, status },
      });
    }
    return body.value as T;
  }

  /** A reader keeping at most `maxBytes` of the body; one byte more is a {@link DaemonError}. */
  private collect(maxBytes: number, what?: string): BodyReader<{ status: number; text: string }> {
    const chunks: Buffer[] = [];
    let size = 0;
    return {
      chunk: (data) => {
        size += data.length;
        if (size > maxBytes) throw this.tooLarge(what ?? 'GET /_ping', maxBytes, 'a body');
        chunks.push(data);
      },
      end: (status) => ({ status, text: Buffer.concat(chunks).toString('utf8') }),
    };
  }

  /** A pull's progress stream, one JSON object a line; resolves to the first `error` the daemon reported. */
  private progress(what: string): BodyReader<string | undefined> {
    const decoder = new StringDecoder('utf8');
    let pending = '';
    let failed: string | undefined;
    let errorBody: BodyReader<{ status: number; text: string }> | undefined;
    const line = (text: string): void => {
      if (text.trim() === '' || failed !== undefined) return;
      const event = parseJson(text)?.value;
      if (isRecord(event) && 'error' in event) failed = String(event.error);
    };
    return {
      chunk: (data, status) => {
        if (status !== 200) {
          errorBody ??= this.collect(this.limits.maxBodyBytes, what);
          errorBody.chunk(data, status);
          return;
        }
        const text = decoder.write(data);
        let start = 0;
        for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
          line(pending + text.slice(start, end));
          pending = '';
          start = end + 1;
        }
        pending += text.slice(start);
        if (pending.length > this.limits.maxBodyBytes) throw this.tooLarge(what, this.limits.maxBodyBytes, 'a progress line');
      },
      end: (status) => {
        if (status !== 200) {
          const text = errorBody?.end(status).text ?? '';
          throw httpError(this.endpoint, what, status, parseJson(text), text);
        }
        line(pending + decoder.end());
        return failed;
      },
    };
  }

  private tooLarge(what: string, maxBytes: number, thing: string): DaemonError {
    return new DaemonError(`The endpoint ${this.endpoint} sent ${thing} of more than ${maxBytes} bytes for ${what}; a Docker daemon sends a few KB.`, {
      hint: 'Is this endpoint really a Docker daemon? Check DOCKER_HOST / the docker context, or pass --docker-host.',
      details: { endpoint: this.endpoint, request: what, maxBytes },
    });
  }

  /** One request with one deadline over connect, headers and body; failures become documented errors. */
  private exchange<T>(what: string, method: string, path: string, timeoutMs: number, reader: BodyReader<T>): Promise<T> {
    const call = this.call(what, timeoutMs, reader);
    call.attach(sendRequest(this.address, method, path, call.handlers));
    return call.result;
  }

  /**
   * One request's side of an exchange, before it is sent: the handlers to send it with, its result, and `attach`
   * for the function that closes its connection. Its deadline runs from now.
   */
  private call<T>(what: string, timeoutMs: number, reader: BodyReader<T>): { handlers: ResponseHandlers; result: Promise<T>; attach(close: () => void): void } {
    let settled = false;
    let closeConnection: (() => void) | undefined;
    let status = 0;
    let resolve = (_value: T): void => undefined;
    let reject = (_error: unknown): void => undefined;
    const result = new Promise<T>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    const finish = (error: unknown, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.signal?.removeEventListener('abort', onAbort);
      closeConnection?.();
      if (error === undefined) resolve(value as T);
      else reject(this.failure(what, timeoutMs, error));
    };
    const handlers: ResponseHandlers = {
      sent: this.leaving(),
      head: (code) => {
        status = code;
      },
      body: (data) => {
        try {
          reader.chunk(data, status);
        } catch (error) {
          finish(error);
        }
      },
      end: () => {
        try {
          finish(undefined, reader.end(status));
        } catch (error) {
          finish(error);
        }
      },
      fail: (error) => finish(error),
    };
    const timer = setTimeout(() => finish(TIMED_OUT), timeoutMs);
    const onAbort = (): void => finish(ABORTED);
    this.signal?.addEventListener('abort', onAbort);
    return {
      handlers,
      result,
      attach: (close) => {
        closeConnection = close;
        // Aborted before it was sent: it goes at once.
        if (this.signal?.aborted) onAbort();
        if (settled) close();
      },
    };
  }

  /** Timeouts and connection failures are DaemonUnreachableError; anything that is not HTTP is a DaemonError. */
  private failure(what: string, timeoutMs: number, error: unknown): DockmirrorError {
    if (error instanceof DockmirrorError) return error;
    if (error === ABORTED) return interrupted();
    const details = { endpoint: this.endpoint, request: what };
    const hint = 'Is Docker running? Check DOCKER_HOST / the docker context, or pass --docker-host.';
    if (error === TIMED_OUT) {
      return new DaemonUnreachableError(`The Docker daemon at ${this.endpoint} did not answer ${what} within ${timeoutMs} ms.`, { hint, details });
    }
    const code = (error as { code?: unknown }).code;
    const pipe = pipeErrorKind(this.endpoint, code);
    if (pipe === 'denied') return pipeDenied(this.endpoint, error);
    if (pipe === 'busy') {
      // Unreachable for now, so every poll (waitForPing, confirmLive) tries again instead of failing the apply.
      return new DaemonUnreachableError(`The Docker pipe at ${this.endpoint} is busy (EBUSY).`, { cause: error, hint, details: { ...details, busy: true } });
    }
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) {
      return new DaemonUnreachableError(`Cannot reach the Docker daemon at ${this.endpoint} (${code}).`, { cause: error, hint, details });
    }
    return new DaemonError(`The endpoint ${this.endpoint} did not answer ${what} in HTTP (${String(code ?? (error as Error).message)}).`, {
      cause: error,
      hint: 'Is this endpoint really a Docker daemon? Check DOCKER_HOST / the docker context, or pass --docker-host.',
      details,
    });
  }
}

/** HTTP errors keep `statusCode` (in details and on the error) so callers (verify) can branch on 404 and friends. */
function httpError(endpoint: string, what: string, status: number, body: { value: unknown } | undefined, text: string): DaemonError {
  const message = isRecord(body?.value) && typeof body.value.message === 'string' ? body.value.message : text;
  const shown = message.trim().slice(0, 1000) || `HTTP ${status}`;
  return Object.assign(
    new DaemonError(`The Docker daemon refused ${what}: ${shown}`, {
      hint: 'See the daemon log (dockmirror status says where it is).',
      details: { endpoint, request: what, statusCode: status },
    }),
    { statusCode: status },
  );
}

/** `repo[:tag|@digest]` split the way the Engine's `POST /images/create` takes it (dockerode's rule). */
function splitRef(ref: string): { repository: string; tag: string } {
  const at = ref.indexOf('@');
  const colon = ref.lastIndexOf(':');
  const separator = at >= 0 ? at : colon;
  if (separator >= 0 && !ref.slice(separator + 1).includes('/')) {
    return { repository: ref.slice(0, separator), tag: ref.slice(separator + 1) };
  }
  return { repository: ref, tag: 'latest' };
}

/** An image reference as a path segment: its own `/`, `:` and `@` stay, anything else is escaped. */
function pathPart(ref: string): string {
  return ref.replace(/[^A-Za-z0-9._\-/:@]/g, (c) => encodeURIComponent(c));
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
