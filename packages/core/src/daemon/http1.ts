/**
 * One HTTP/1.1 request and its response over a fresh connection to an Engine endpoint (unix socket, Windows
 * named pipe or TCP), with `Connection: close`. node:http does this too, but loading it and its first request
 * cost 8-10 ms of CPU on every command that talks to the daemon (its agent, outgoing message and incoming
 * message machinery run cold each time), for a client that only ever sends a bodiless request and reads one
 * response. What is framed here is what an Engine API answer can be: a status line and headers, then a body by
 * `Content-Length`, by chunked transfer coding, or up to the close. Anything else is refused as not HTTP, and
 * every part an endpoint controls is bounded (the header section, a chunk-size line, the trailers).
 */
import type { Socket } from 'node:net';
import type { EngineAddress } from './engine-http.js';

/** What happens to one request, in order: `head` once, `body` any number of times, then `end`; or `fail` once. */
export interface ResponseHandlers {
  /** The status line and header fields (names lower-cased; repeated fields joined with `, `) arrived. */
  head(status: number, headers: ReadonlyMap<string, string>): void;
  /** A piece of the body, with any chunked framing taken off. */
  body(data: Buffer): void;
  /** The body is complete. */
  end(): void;
  /** The connection failed (the error carries Node's `code`), or what came is not an HTTP/1.1 response. */
  fail(error: Error): void;
  /** Once: the request is written to the connection, or the connection failed or was closed before it was. */
  sent?(): void;
}

/** An answer that is not HTTP/1.1 as an Engine sends it; `code` is undefined, so callers show the message. */
export class NotHttpError extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'NotHttpError';
  }
}

/** node:http's own default bound on a response's header section. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** A chunk-size line is a hex number and perhaps an extension; one longer than this is not a daemon's. */
const MAX_CHUNK_LINE_BYTES = 1024;

/** 2^48: far beyond any bound a caller sets on a body, and still exact as a JS number. */
const MAX_CHUNK_HEX_DIGITS = 12;

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.[01] ([1-9]\d\d)(?: [^\r\n]*)?$/;
const FIELD_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

/**
 * The response side of one exchange, fed the bytes as they come. Pure (no socket), so the framing is tested on
 * every way a response can be cut into pieces. `push` and `close` throw a {@link NotHttpError} for bytes that
 * are not an HTTP/1.1 response, or a response cut short.
 */
export class ResponseParser {
  private state: 'head' | 'length' | 'size' | 'data' | 'data-end' | 'trailers' | 'close' | 'done' = 'head';
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private trailerBytes = 0;
  /** Whether an interim answer (1xx) came: the response has begun. */
  private interim = false;

  constructor(private readonly on: Pick<ResponseHandlers, 'head' | 'body' | 'end'>) {}

  /** True once the whole response was read: later bytes are ignored. */
  get done(): boolean {
    return this.state === 'done';
  }

  /** True while not one byte of the response has come. */
  get untouched(): boolean {
    return this.state === 'head' && this.pending.length === 0 && !this.interim;
  }

  /**
   * Takes the next bytes from the connection; returns those after the end of the response (the start of the
   * next one, on a connection that carries several), and nothing while the response goes on.
   */
  push(data: Buffer): Buffer {
    let input = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
    this.pending = Buffer.alloc(0);
    while (input.length > 0 && this.state !== 'done') input = this.step(input);
    return input;
  }

  /**
   * The connection ended: fine only after a whole response, or for a body that runs to the close; otherwise it
   * throws what node:http reports for it, an ECONNRESET (a restarting daemon drops connections so).
   */
  close(): void {
    if (this.state === 'close') this.finish();
    if (this.state !== 'done') throw closedEarly();
  }

  /** Consumes what it can of `input` in the current state; returns the rest, or keeps it when it needs more. */
  private step(input: Buffer): Buffer {
    switch (this.state) {
      case 'head':
        return this.readHead(input);
      case 'length':
      case 'data':
        return this.readData(input);
      case 'close':
        this.on.body(input);
        return Buffer.alloc(0);
      case 'size':
      case 'data-end':
      case 'trailers':
        return this.readLine(input);
      default:
        return Buffer.alloc(0);
    }
  }

  private readHead(input: Buffer): Buffer {
    const end = input.indexOf(HEAD_END);
    if (end === -1) {
      if (input.length > MAX_HEAD_BYTES) throw new NotHttpError(`a header section over ${MAX_HEAD_BYTES / 1024} KiB`);
      this.pending = input;
      return Buffer.alloc(0);
    }
    if (end > MAX_HEAD_BYTES) throw new NotHttpError(`a header section over ${MAX_HEAD_BYTES / 1024} KiB`);
    const [statusLine = '', ...lines] = input.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(STATUS_LINE.exec(statusLine)?.[1] ?? Number.NaN);
    if (Number.isNaN(status)) throw new NotHttpError('no HTTP/1.1 status line');
    const headers = new Map<string, string>();
    for (const line of lines) {
      const field = FIELD_LINE.exec(line);
      if (!field) throw new NotHttpError('a malformed header line');
      const name = (field[1] as string).toLowerCase();
      const known = headers.get(name);
      headers.set(name, known === undefined ? (field[2] as string) : `${known}, ${field[2] as string}`);
    }
    const rest = input.subarray(end + HEAD_END.length);
    // An interim answer (100 Continue and friends) is followed by the real one; an upgrade is not the Engine API.
    if (status < 200) {
      if (status === 101) throw new NotHttpError('a protocol switch (101)');
      this.interim = true;
      return rest;
    }
    this.on.head(status, headers);
    this.frame(status, headers);
    return rest;
  }

  /** How the body is delimited (RFC 9112 section 6.3, for a response to a request that is not HEAD). */
  private frame(status: number, headers: ReadonlyMap<string, string>): void {
    const coding = headers.get('transfer-encoding');
    const length = headers.get('content-length');
    if (status === 204 || status === 304) return this.finish();
    if (coding !== undefined) {
      this.state = /(?:^|,)\s*chunked\s*$/i.test(coding) ? 'size' : 'close';
      return;
    }
    if (length === undefined) {
      this.state = 'close';
      return;
    }
    // `5, 5` is one length said twice; anything else is two answers' worth of doubt.
    const lengths = new Set(length.split(',').map((l) => l.trim()));
    const [only] = lengths;
    if (lengths.size !== 1 || only === undefined || !/^\d{1,15}$/.test(only)) throw new NotHttpError(`a bad Content-Length (${length.slice(0, 40)})`);
    this.remaining = Number(only);
    if (this.remaining === 0) return this.finish();
    this.state = 'length';
  }

  private readData(input: Buffer): Buffer {
    const take = Math.min(this.remaining, input.length);
    this.on.body(input.subarray(0, take));
    this.remaining -= take;
    if (this.remaining === 0) {
      if (this.state === 'length') this.finish();
      else this.state = 'data-end';
    }
    return input.subarray(take);
  }

  /** The CRLF-ended lines of chunked coding: a chunk's size, the CRLF after its data, the trailers. */
  private readLine(input: Buffer): Buffer {
    const end = input.indexOf(CRLF);
    const bound = this.state === 'trailers' ? MAX_HEAD_BYTES - this.trailerBytes : MAX_CHUNK_LINE_BYTES;
    if (end === -1 || end > bound) {
      if (input.length > bound) throw new NotHttpError(this.state === 'trailers' ? 'trailers over 16 KiB' : 'a chunk-size line over 1 KiB');
      this.pending = input;
      return Buffer.alloc(0);
    }
    const line = input.subarray(0, end).toString('latin1');
    const rest = input.subarray(end + CRLF.length);
    if (this.state === 'data-end') {
      if (line !== '') throw new NotHttpError('a chunk longer than its size');
      this.state = 'size';
    } else if (this.state === 'size') {
      const hex = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/.exec(line)?.[1];
      if (hex === undefined || hex.length > MAX_CHUNK_HEX_DIGITS) throw new NotHttpError('a bad chunk size');
      this.remaining = Number.parseInt(hex, 16);
      this.state = this.remaining === 0 ? 'trailers' : 'data';
    } else if (line === '') this.finish();
    else this.trailerBytes += end + CRLF.length;
    return rest;
  }

  private finish(): void {
    this.state = 'done';
    this.on.end();
  }
}

/** A connection that ended before its answer did. */
function closedEarly(): Error {
  return Object.assign(new Error('the connection closed before the answer ended'), { code: 'ECONNRESET' });
}

let net: typeof import('node:net') | undefined;

/** A connection to `address`; only here is node:net's connection code loaded (a command that asks no daemon never needs it). */
function connect(address: EngineAddress): Socket {
  net ??= process.getBuiltinModule('node:net');
  const socket: Socket = 'socketPath' in address ? net.connect(address.socketPath) : net.connect({ host: address.host, port: address.port });
  socket.setNoDelay(true);
  return socket;
}

/** A bodiless request as it is written; `last` asks the endpoint to close the connection after answering it. */
function requestText(method: string, path: string, last: boolean): string {
  const length = method === 'GET' ? '' : 'Content-Length: 0\r\n';
  return `${method} ${path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockmirror\r\n${last ? 'Connection: close\r\n' : ''}${length}\r\n`;
}

/**
 * Sends a bodiless `method path` to `address` and reports its response to `handlers`. Returns the function that
 * closes the connection: call it once the answer is used, or to give up. After it no handler is called.
 */
export function sendRequest(address: EngineAddress, method: string, path: string, handlers: ResponseHandlers): () => void {
  let closed = false;
  const parser = new ResponseParser({
    head: (status, headers) => closed || handlers.head(status, headers),
    body: (data) => closed || handlers.body(data),
    end: () => closed || handlers.end(),
  });
  const socket = connect(address);
  let sent = false;
  const leave = (): void => {
    if (sent) return;
    sent = true;
    handlers.sent?.();
  };
  const fail = (error: Error): void => {
    if (closed) return;
    close();
    handlers.fail(error);
  };
  const close = (): void => {
    closed = true;
    socket.destroy();
    leave();
  };
  socket.on('error', fail);
  socket.on('data', (data: Buffer) => {
    try {
      parser.push(data);
    } catch (error) {
      fail(error as Error);
    }
  });
  socket.on('end', () => {
    try {
      parser.close();
    } catch (error) {
      fail(error as Error);
    }
  });
  socket.on('close', () => {
    if (!parser.done) fail(closedEarly());
  });
  // Written, not ended: dockerd (Go's net/http) takes a half-closed connection for a client that went away, and
  // would end an /events stream at once.
  socket.write(requestText(method, path, true), leave);
  return close;
}

/** One GET of those {@link sendGets} asks at once. */
export interface PipelinedGet {
  path: string;
  handlers: ResponseHandlers;
}

/**
 * Sends bodiless GETs on one connection at once (HTTP/1.1 pipelining; an Engine, Go's net/http, answers them
 * one after another, in order) and reports each response to its own handlers, as {@link sendRequest} does for
 * one. A connection costs more here than the requests it carries, and this is how a greeting asks three. Returns
 * one close function per GET: closing one silences its handlers (its answer is still read past, for the next
 * one's sake), and the connection goes when every GET is closed or done.
 *
 * An endpoint that ends the connection after some of the answers (one that does not keep connections alive) is
 * asked the unanswered GETs again, on a connection of their own: only GETs are ever pipelined, so asking twice
 * changes nothing. One that answers none of them fails them all, as a single request would.
 */
export function sendGets(address: EngineAddress, gets: readonly PipelinedGet[]): (() => void)[] {
  const socket = connect(address);
  // Per GET: closed by its caller; answered or failed (reported, or silenced); asked again elsewhere (its close).
  const closed = gets.map(() => false);
  const settled = gets.map(() => false);
  const retried = new Map<number, () => void>();
  const parsers = gets.map(
    ({ handlers }, i) =>
      new ResponseParser({
        head: (status, headers) => closed[i] || handlers.head(status, headers),
        body: (data) => closed[i] || handlers.body(data),
        end: () => {
          settled[i] = true;
          if (!closed[i]) handlers.end();
        },
      }),
  );
  // The GET whose answer comes next; every one before it was answered.
  let current = 0;
  let sent = false;
  const leave = (): void => {
    if (sent) return;
    sent = true;
    for (const get of gets) get.handlers.sent?.();
  };
  const waiting = (i: number): boolean => !closed[i] && !settled[i] && !retried.has(i);
  const release = (): void => {
    if (gets.some((_, i) => waiting(i))) return;
    socket.destroy();
    leave();
  };
  const failWaiting = (error: Error): void => {
    socket.destroy();
    leave();
    gets.forEach((get, i) => {
      if (!waiting(i)) return;
      settled[i] = true;
      get.handlers.fail(error);
    });
  };
  socket.on('error', failWaiting);
  socket.on('data', (data: Buffer) => {
    let input = data;
    try {
      while (current < gets.length) {
        const parser = parsers[current] as ResponseParser;
        input = parser.push(input);
        if (!parser.done) break;
        current += 1;
        if (input.length === 0) break;
      }
    } catch (error) {
      failWaiting(error as Error);
      return;
    }
    release();
  });
  socket.on('end', () => {
    const parser = parsers[current];
    if (parser) {
      const untouched = parser.untouched;
      try {
        // A body that runs to the close ends here.
        parser.close();
      } catch (error) {
        // Cut short in the middle of an answer, or closed before answering any: every GET still waiting fails.
        if (!untouched || current === 0) return failWaiting(error as Error);
      }
    }
    // Answered some, then closed before the next began: the rest are asked again, each on a connection of its own.
    gets.forEach((get, i) => {
      if (!waiting(i)) return;
      const { sent: _sent, ...handlers } = get.handlers;
      retried.set(i, sendRequest(address, 'GET', get.path, handlers));
    });
    release();
  });
  socket.on('close', () => failWaiting(closedEarly()));
  socket.write(gets.map((get, i) => requestText('GET', get.path, i === gets.length - 1)).join(''), leave);
  return gets.map((_, i) => () => {
    closed[i] = true;
    retried.get(i)?.();
    release();
  });
}
