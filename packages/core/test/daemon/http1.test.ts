// The HTTP/1.1 response framing of the Engine client (http1.ts), on generated responses cut into pieces at
// every kind of place: what an Engine can send (a body by Content-Length, chunked, or up to the close) comes out
// whole and once; a response cut short is a dropped connection, and what an Engine cannot send (an oversized
// part, something that is not HTTP) is a NotHttpError: never a hang or a partial answer taken for a whole one. Over real sockets, the client is in
// hostile-engine.test.ts, reload-events.test.ts and every test on the real dockerd.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/daemon/engine.js';
import { MAX_HEAD_BYTES, NotHttpError, ResponseParser, sendGets, sendRequest, type ResponseHandlers } from '../../src/daemon/http1.js';

interface Seen {
  status?: number;
  headers?: ReadonlyMap<string, string>;
  body: Buffer[];
  ends: number;
}

function parser(): { p: ResponseParser; seen: Seen } {
  const seen: Seen = { body: [], ends: 0 };
  const p = new ResponseParser({
    head: (status, headers) => Object.assign(seen, { status, headers }),
    body: (data) => seen.body.push(Buffer.from(data)),
    end: () => (seen.ends += 1),
  });
  return { p, seen };
}

/** Feeds `bytes` cut at `cuts` (positions, any order), then the close when `close`. */
function feed(bytes: Buffer, cuts: number[], close: boolean): Seen {
  const { p, seen } = parser();
  let at = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    p.push(bytes.subarray(at, cut));
    at = cut;
  }
  p.push(bytes.subarray(at));
  if (close) p.close();
  return seen;
}

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
const value = fc.stringMatching(/^[ -~]{0,30}$/).map((v) => v.trim());
const body = fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b));
const framing = fc.oneof(
  fc.constant({ kind: 'length' as const }),
  fc.record({ kind: fc.constant('chunked' as const), sizes: fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 8 }), ext: fc.boolean(), trailer: fc.boolean(), upper: fc.boolean() }),
  fc.constant({ kind: 'close' as const }),
);
type Framing = { kind: 'length' } | { kind: 'close' } | { kind: 'chunked'; sizes: number[]; ext: boolean; trailer: boolean; upper: boolean };

/** A response as an Engine (Go's net/http) could write it. */
function response(status: number, fields: [string, string][], content: Buffer, how: Framing, interim: boolean): Buffer {
  const head = [`HTTP/1.1 ${status} Whatever`, ...fields.map(([n, v]) => `${n}: ${v}`)];
  let rest: Buffer = content;
  if (how.kind === 'length') head.push(`Content-Length: ${content.length}`);
  if (how.kind === 'chunked') {
    head.push('Transfer-Encoding: chunked');
    const parts: Buffer[] = [];
    let at = 0;
    for (const size of [...how.sizes, content.length]) {
      if (at >= content.length) break;
      const piece = content.subarray(at, at + size);
      at += piece.length;
      const hex = piece.length.toString(16);
      parts.push(Buffer.from(`${how.upper ? hex.toUpperCase() : hex}${how.ext ? ';x=1' : ''}\r\n`), piece, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(`0\r\n${how.trailer ? 'X-Trailer: t\r\n' : ''}\r\n`));
    rest = Buffer.concat(parts);
  }
  const prefix = interim ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
  return Buffer.concat([Buffer.from(`${prefix}${head.join('\r\n')}\r\n\r\n`, 'latin1'), rest]);
}

const responses = fc.record({
  status: fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
  fields: fc.array(fc.tuple(token, value), { maxLength: 6 }).map((f) => f.filter(([n]) => !/^(content-length|transfer-encoding)$/i.test(n))),
  content: body,
  how: framing,
  interim: fc.boolean(),
  cuts: fc.array(fc.nat(), { maxLength: 12 }),
});

describe('ResponseParser', () => {
  it('gives every generated response whole, once, however it is cut', () => {
    fc.assert(
      fc.property(responses, ({ status, fields, content, how, interim, cuts }) => {
        const bytes = response(status, fields, content, how, interim);
        const seen = feed(bytes, cuts, how.kind === 'close');
        expect(seen.status).toBe(status);
        expect(Buffer.concat(seen.body).equals(content)).toBe(true);
        expect(seen.ends).toBe(1);
        for (const [name, v] of fields) expect(seen.headers?.get(name.toLowerCase())).toContain(v);
      }),
      { numRuns: 400 },
    );
  });

  it('takes a response cut short, then closed, for a dropped connection (ECONNRESET), not an answer', () => {
    fc.assert(
      fc.property(responses, fc.nat(), ({ status, fields, content, how }, at) => {
        fc.pre(how.kind !== 'close');
        const bytes = response(status, fields, content, how, false);
        const cut = at % bytes.length;
        const { p, seen } = parser();
        p.push(bytes.subarray(0, cut));
        expect(() => p.close()).toThrow(expect.objectContaining({ code: 'ECONNRESET', message: 'the connection closed before the answer ended' }));
        expect(seen.ends).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('ignores what comes after a whole response', () => {
    const { p, seen } = parser();
    p.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOKHTTP/1.1 500 No\r\n\r\n'));
    p.close();
    expect([seen.status, Buffer.concat(seen.body).toString(), seen.ends]).toEqual([200, 'OK', 1]);
  });

  it('a 204, a 304 and a zero length have no body; repeated fields are joined', () => {
    for (const head of ['HTTP/1.1 204 No Content', 'HTTP/1.1 304 Not Modified', 'HTTP/1.0 200 OK\r\nContent-Length: 0']) {
      const { p, seen } = parser();
      p.push(Buffer.from(`${head}\r\nA: 1\r\na: 2\r\n\r\n`));
      expect(seen.ends).toBe(1);
      expect(seen.headers?.get('a')).toBe('1, 2');
      expect(p.done).toBe(true);
    }
    const { p, seen } = parser();
    p.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc'));
    expect(Buffer.concat(seen.body).toString()).toBe('abc');
  });

  it('refuses what is not an Engine response, each with its reason', () => {
    const refused: [string, RegExp][] = [
      ['SSH-2.0-OpenSSH_9.2\r\n\r\n', /no HTTP\/1\.1 status line/],
      ['HTTP/2 200\r\n\r\n', /no HTTP\/1\.1 status line/],
      ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /malformed header line/],
      ['HTTP/1.1 200 OK\r\n folded: value\r\n\r\n', /malformed header line/],
      ['HTTP/1.1 101 Switching Protocols\r\n\r\n', /protocol switch/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n', /bad Content-Length/],
      ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /bad Content-Length/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /bad chunk size/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n', /bad chunk size/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', /chunk longer than its size/],
    ];
    for (const [bytes, why] of refused) {
      const { p } = parser();
      expect(() => p.push(Buffer.from(bytes)), bytes).toThrow(why);
    }
  });

  it('bounds the header section, a chunk-size line and the trailers, even when they never end', () => {
    const flood = (head: string, piece: string, limit: number, why: RegExp): void => {
      const { p } = parser();
      p.push(Buffer.from(head));
      const chunk = Buffer.from(piece.repeat(256));
      let sent = 0;
      expect(() => {
        for (; sent <= limit + chunk.length; sent += chunk.length) p.push(chunk);
      }).toThrow(why);
      expect(sent).toBeLessThanOrEqual(limit + chunk.length);
    };
    flood('HTTP/1.1 200 OK\r\n', 'X-A: aaaaaaaaaaaaaaa\r\n', MAX_HEAD_BYTES, /header section over 16 KiB/);
    flood('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1', ';', 1024, /chunk-size line over 1 KiB/);
    flood('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n', 'X-T: t\r\n', MAX_HEAD_BYTES, /trailers over 16 KiB/);
  });

  it('is done only once the whole response was read', () => {
    const { p, seen } = parser();
    p.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab'));
    expect([p.done, seen.ends]).toEqual([false, 0]);
    p.push(Buffer.from('cd'));
    expect([p.done, seen.ends]).toEqual([true, 1]);
  });

  it('frames by the last transfer coding: chunked only when it comes last, otherwise up to the close', () => {
    const body = (coding: string, bytes: string): [string, number] => {
      const { p, seen } = parser();
      p.push(Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\n\r\n${bytes}`));
      if (!p.done) p.close();
      return [Buffer.concat(seen.body).toString(), seen.ends];
    };
    expect(body('gzip, chunked', '3\r\nabc\r\n0\r\n\r\n')).toEqual(['abc', 1]);
    expect(body('Chunked ', '3\r\nabc\r\n0\r\n\r\n')).toEqual(['abc', 1]);
    for (const coding of ['chunked, gzip', 'xchunked', 'chunkedx', 'gzip']) expect(body(coding, '3\r\nabc')).toEqual(['3\r\nabc', 1]);
  });

  it('reads a chunk size of several hex digits, with blanks or an extension after it, and nothing else', () => {
    const chunked = (size: string, data: string): string => {
      const { p, seen } = parser();
      p.push(Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n${data}\r\n0\r\n\r\n`));
      expect(seen.ends).toBe(1);
      return Buffer.concat(seen.body).toString();
    };
    const a26 = 'a'.repeat(26);
    expect(chunked('1a', a26)).toBe(a26);
    expect(chunked('1A \t;name="v"', a26)).toBe(a26);
    expect(chunked('00000000001a', a26)).toBe(a26);
    for (const size of ['x1a', '1a x', '000000000001a', ' 1a']) {
      expect(() => chunked(size, a26), size).toThrow(/bad chunk size/);
    }
  });

  it('takes a header section, a chunk-size line and trailers right up to their bounds', () => {
    const filler = (bytes: number): string => `X-F: ${'f'.repeat(bytes - 'X-F: '.length)}`;
    // The section before its closing blank line: exactly the bound passes, one byte more does not, however it comes.
    const statusLine = 'HTTP/1.1 204 No Content\r\n';
    const exactly = `${statusLine}${filler(MAX_HEAD_BYTES - statusLine.length)}\r\n\r\n`;
    const over = `${statusLine}${filler(MAX_HEAD_BYTES - statusLine.length + 1)}\r\n\r\n`;
    expect(feed(Buffer.from(exactly), [], false).ends).toBe(1);
    expect(() => feed(Buffer.from(over), [], false)).toThrow(/header section over 16 KiB/);
    expect(() => feed(Buffer.from(over), [MAX_HEAD_BYTES - 10], false)).toThrow(/header section over 16 KiB/);
    // A chunk-size line of 1 KiB.
    const ext = `1;${'e'.repeat(1024 - 2)}`;
    expect(Buffer.concat(feed(Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${ext}\r\nz\r\n0\r\n\r\n`), [], false).body).toString()).toBe('z');
    expect(() => feed(Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${ext}e\r\n`), [], false)).toThrow(/chunk-size line over 1 KiB/);
    expect(() => feed(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n`), [], false)).toThrow('a bad Content-Length (12abc)');
    expect(() => feed(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${'9'.repeat(60)}\r\n\r\n`), [], false)).toThrow(`a bad Content-Length (${'9'.repeat(40)})`);
  });

  it('an endless body up to the close is handed on as it comes, kept by nobody', () => {
    const { p, seen } = parser();
    p.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
    for (let i = 0; i < 100; i += 1) p.push(Buffer.alloc(1024, 'x'));
    expect(seen.body).toHaveLength(100);
    expect(seen.ends).toBe(0);
    p.close();
    expect(seen.ends).toBe(1);
  });
});

describe('sendRequest', () => {
  let dir: string;
  const servers: Server[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dm-http1-'));
  });
  afterAll(async () => {
    for (const server of servers) server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A unix socket whose server does `behave` with each connection once the request came; what it read is kept. */
  async function serve(name: string, behave: (socket: Socket) => void): Promise<{ socketPath: string; requests: string[]; ended: string[] }> {
    const socketPath = path.join(dir, `${name}.sock`);
    const requests: string[] = [];
    const ended: string[] = [];
    const server = createServer((socket) => {
      let text = '';
      socket.on('error', () => undefined);
      socket.on('end', () => ended.push('client ended'));
      socket.on('close', () => ended.push('closed'));
      socket.on('data', (d) => {
        text += d.toString('latin1');
        if (text.includes('\r\n\r\n')) {
          requests.push(text);
          behave(socket);
        }
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(socketPath, r));
    return { socketPath, requests, ended };
  }

  /** What one request saw: its handlers' calls in order. */
  function run(socketPath: string, method = 'GET'): { calls: string[]; sent: string[]; close: () => void; settled: Promise<void> } {
    const calls: string[] = [];
    // When the request left, by the calls seen then: kept apart, since a failure may come before or after it.
    const sent: string[] = [];
    let settle = (): void => undefined;
    const settled = new Promise<void>((r) => (settle = r));
    const handlers: ResponseHandlers = {
      head: (status) => calls.push(`head ${status}`),
      body: (data) => calls.push(`body ${data.toString()}`),
      end: () => {
        calls.push('end');
        settle();
      },
      fail: (error) => {
        calls.push(`fail ${(error as { code?: string }).code ?? error.message}`);
        settle();
      },
      sent: () => sent.push(`after ${calls.length} calls`),
    };
    return { calls, sent, close: sendRequest({ socketPath }, method, '/x?y=1', handlers), settled };
  }

  it('writes one bodiless request, keeps its side open (an Engine takes a half-close for a client gone), and reads the answer', async () => {
    let halfClosed: boolean | undefined;
    const at = await serve('answers', (s) =>
      setTimeout(() => {
        halfClosed ??= at.ended.includes('client ended');
        s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK');
      }, 50),
    );
    const get = run(at.socketPath);
    await get.settled;
    expect(get.calls).toEqual(['head 200', 'body OK', 'end']);
    // Written before anything came back, and said once.
    expect(get.sent).toEqual(['after 0 calls']);
    expect(halfClosed).toBe(false);
    const post = run(at.socketPath, 'POST');
    await post.settled;
    expect(at.requests).toEqual([
      'GET /x?y=1 HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockmirror\r\nConnection: close\r\n\r\n',
      'POST /x?y=1 HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockmirror\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    ]);
  });

  it('a body up to the close ends with the close', async () => {
    const at = await serve('to-close', (s) => {
      s.write('HTTP/1.1 200 OK\r\n\r\nab');
      setTimeout(() => s.end('cd'), 20);
    });
    const r = run(at.socketPath);
    await r.settled;
    expect(r.calls).toEqual(['head 200', 'body ab', 'body cd', 'end']);
  });

  it('a connection dropped before the answer is an ECONNRESET, reported once', async () => {
    const at = await serve('drops', (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc'));
    const r = run(at.socketPath);
    await r.settled;
    await new Promise((done) => setTimeout(done, 50));
    expect(r.calls).toEqual(['head 200', 'body abc', 'fail ECONNRESET']);
  });

  it('what is not HTTP fails once and closes the connection, though the endpoint keeps it open', async () => {
    const at = await serve('garbage', (s) => s.write('SSH-2.0-x\r\n\r\nmore'));
    const r = run(at.socketPath);
    await r.settled;
    await new Promise((done) => setTimeout(done, 50));
    expect(r.calls).toEqual(['fail no HTTP/1.1 status line']);
    expect(at.ended).toContain('closed');
  });

  it('after close, nothing more is reported, and the connection is gone', async () => {
    const at = await serve('late', (s) => setTimeout(() => s.writable && s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK'), 100));
    const r = run(at.socketPath);
    await new Promise((done) => setTimeout(done, 30));
    r.close();
    await new Promise((done) => setTimeout(done, 200));
    expect(r.calls).toEqual([]);
    expect(r.sent).toEqual(['after 0 calls']);
    expect(at.ended).toContain('closed');
  });

  it('a refused connection is its error, with its code', async () => {
    const r = run(path.join(dir, 'nobody.sock'));
    await r.settled;
    expect(r.calls).toEqual(['fail ENOENT']);
    // Never written, and never will be: that counts as sent, so nobody waits for it.
    expect(r.sent).toEqual(['after 0 calls']);
  });

  it('closed before it could connect, a request counts as sent, once', async () => {
    const at = await serve('never-asked', () => undefined);
    const r = run(at.socketPath);
    r.close();
    await new Promise((done) => setTimeout(done, 50));
    expect(r.sent).toEqual(['after 0 calls']);
    expect(r.calls).toEqual([]);
  });
});

describe("an Engine's written()", () => {
  it('resolves once every request asked is on its connection, long before an answer; failed ones count as written', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'dm-written-'));
    const socketPath = path.join(dir, 'holds.sock');
    const seen: string[] = [];
    const held: Socket[] = [];
    const server = createServer((socket) => {
      held.push(socket);
      socket.on('data', (d) => seen.push(d.toString('latin1').split(' ')[1] as string));
    });
    await new Promise<void>((r) => server.listen(socketPath, r));
    try {
      const engine = createEngine(`unix://${socketPath}`);
      await engine.written();
      let answered = false;
      const ping = engine.ping(5_000).finally(() => (answered = true));
      const info = engine.info(5_000).catch((error: unknown) => error);
      await engine.written();
      await new Promise((done) => setTimeout(done, 20));
      expect(answered).toBe(false);
      expect(seen.sort()).toEqual(['/_ping', '/info']);
      // A request to nowhere fails, and is not waited for.
      const nowhere = createEngine(`unix://${path.join(dir, 'nobody.sock')}`);
      const lost = nowhere.version(5_000).catch((error: unknown) => error);
      await nowhere.written();
      expect(await lost).toBeInstanceOf(Error);
      for (const socket of held) socket.destroy();
      expect(await ping).toBe(false);
      expect(await info).toBeInstanceOf(Error);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sendGets: several GETs on one connection', () => {
  let dir: string;
  const servers: Server[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dm-pipeline-'));
  });
  afterAll(async () => {
    for (const server of servers) server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A unix socket whose server calls `behave` once per connection, when the whole of what the client wrote is
   * in (`count` requests); each connection's requests are kept, in order.
   */
  let serversMade = 0;
  async function serve(name: string, count: (connection: number) => number, behave: (socket: Socket, paths: string[], connection: number) => void) {
    const socketPath = path.join(dir, `${name}-${(serversMade += 1)}.sock`);
    const connections: string[][] = [];
    const server = createServer((socket) => {
      const n = connections.length;
      const paths: string[] = [];
      connections.push(paths);
      let text = '';
      socket.on('error', () => undefined);
      socket.on('data', (d) => {
        text += d.toString('latin1');
        const heads = text.split('\r\n\r\n').slice(0, -1);
        if (heads.length < count(n) || paths.length > 0) return;
        // Only a well-formed GET request line is named by its path; anything else shows as what it is.
        for (const head of heads) {
          const line = head.split('\r\n')[0] as string;
          const get = /^GET (\/\S*) HTTP\/1\.1$/.exec(line)?.[1];
          paths.push(`${get ?? `bad: ${line}`}${/Connection: close/.test(head) ? ' (close)' : ''}`);
        }
        behave(socket, paths, n);
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(socketPath, r));
    return { socketPath, connections };
  }

  /** What each GET saw, and a promise for all of them to be reported. */
  function ask(socketPath: string, paths: string[]) {
    const calls = paths.map(() => [] as string[]);
    const sent = paths.map(() => 0);
    const done = paths.map(() => {
      let settle = (): void => undefined;
      return { promise: new Promise<void>((r) => (settle = r)), settle: () => settle() };
    });
    const closers = sendGets(
      { socketPath },
      paths.map((p, i) => ({
        path: p,
        handlers: {
          head: (status) => calls[i]?.push(`head ${status}`),
          body: (data) => calls[i]?.push(`body ${data.toString()}`),
          end: () => {
            calls[i]?.push('end');
            done[i]?.settle();
          },
          fail: (error) => {
            calls[i]?.push(`fail ${(error as { code?: string }).code ?? error.message}`);
            done[i]?.settle();
          },
          sent: () => (sent[i] = (sent[i] ?? 0) + 1),
        },
      })),
    );
    return { calls, sent, closers, all: Promise.all(done.map((d) => d.promise)) };
  }

  /** `promise`, or a failure after `ms`: a GET left waiting fails its test at once rather than hanging it. */
  const within = <T,>(promise: Promise<T>, ms = 3_000): Promise<T> =>
    Promise.race([promise, new Promise<never>((_, no) => setTimeout(() => no(new Error(`still waiting after ${ms} ms`)), ms).unref())]);

  const answer = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
  const chunked = (parts: string[]) => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${parts.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('')}0\r\n\r\n`;

  it('writes every GET at once, the last asking for the close, and hands each answer to its own GET, however the bytes are cut', async () => {
    const responses = [answer('OK'), 'HTTP/1.1 204 No Content\r\n\r\n', chunked(['{"a":', '1}']), `HTTP/1.1 200 OK\r\n\r\nto the close`];
    const wire = Buffer.from(responses.join(''));
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: wire.length - 1 }), { maxLength: 6 }), async (cuts) => {
        const at = await serve('cut-up', () => 4, (socket) => {
          const edges = [0, ...[...cuts].sort((a, b) => a - b), wire.length];
          const pieces = edges.slice(1).map((end, i) => wire.subarray(edges[i], end));
          const next = (): void => {
            const piece = pieces.shift();
            if (piece === undefined) return void socket.end();
            socket.write(piece);
            setImmediate(next);
          };
          next();
        });
        const run = ask(at.socketPath, ['/_ping', '/a', '/b', '/c']);
        await run.all;
        expect(at.connections).toEqual([['/_ping', '/a', '/b', '/c (close)']]);
        expect(run.calls.map((c) => [c[0], c.filter((x) => x.startsWith('body')).map((x) => x.slice(5)).join(''), c.at(-1)])).toEqual([
          ['head 200', 'OK', 'end'],
          ['head 204', '', 'end'],
          ['head 200', '{"a":1}', 'end'],
          ['head 200', 'to the close', 'end'],
        ]);
        expect(run.sent).toEqual([1, 1, 1, 1]);
      }),
      { numRuns: 25 },
    );
  });

  it('an endpoint that closes after the first answer is asked the rest again, each on a connection of its own', async () => {
    const at = await serve('one-each', (n) => (n === 0 ? 3 : 1), (socket, paths) => socket.end(answer(`for ${paths[0]?.split(' ')[0]}`, 'Connection: close\r\n')));
    const run = ask(at.socketPath, ['/_ping', '/version', '/info']);
    await within(run.all);
    expect(run.calls).toEqual([
      ['head 200', 'body for /_ping', 'end'],
      ['head 200', 'body for /version', 'end'],
      ['head 200', 'body for /info', 'end'],
    ]);
    expect(at.connections[0]).toEqual(['/_ping', '/version', '/info (close)']);
    expect(at.connections.slice(1).map((c) => c.join()).sort()).toEqual(['/info (close)', '/version (close)']);
    expect(run.sent).toEqual([1, 1, 1]);
  });

  it('a connection closed before any answer, or in the middle of one, fails every GET still waiting, once', async () => {
    const none = await serve('none', () => 2, (socket) => socket.end());
    const first = ask(none.socketPath, ['/a', '/b']);
    await within(first.all);
    expect(first.calls).toEqual([['fail ECONNRESET'], ['fail ECONNRESET']]);
    const cut = await serve('cut', () => 3, (socket) => socket.end(`${answer('one')}HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\ntw`));
    const second = ask(cut.socketPath, ['/a', '/b', '/c']);
    await within(second.all);
    await new Promise((done) => setTimeout(done, 30));
    expect(second.calls).toEqual([['head 200', 'body one', 'end'], ['head 200', 'body tw', 'fail ECONNRESET'], ['fail ECONNRESET']]);
    // Nothing was asked again: an answer cut short is a dropped connection.
    expect(cut.connections).toHaveLength(1);
  });

  it('what is not HTTP fails every GET once and closes the connection; a refused connection fails them with its code', async () => {
    let closed = false;
    const garbage = await serve('garbage', () => 2, (socket) => {
      socket.on('close', () => (closed = true));
      socket.write('SSH-2.0-x\r\n\r\nmore');
    });
    const run = ask(garbage.socketPath, ['/a', '/b']);
    await within(run.all);
    expect(run.calls).toEqual([['fail no HTTP/1.1 status line'], ['fail no HTTP/1.1 status line']]);
    await new Promise((done) => setTimeout(done, 30));
    // The endpoint keeps its side open: only the client's close ends the connection.
    expect(closed).toBe(true);
    const refused = ask(path.join(dir, 'nobody.sock'), ['/a', '/b']);
    await refused.all;
    expect(refused.calls).toEqual([['fail ENOENT'], ['fail ENOENT']]);
    expect(refused.sent).toEqual([1, 1]);
  });

  it('a GET closed by its caller hears nothing more; the others still get their answers, and the connection goes with the last', async () => {
    let closedByClient = false;
    const at = await serve('slow-first', () => 2, (socket) => {
      socket.on('close', () => (closedByClient = true));
      setTimeout(() => socket.write(answer('late')), 60);
      setTimeout(() => socket.writable && socket.write(answer('second')), 80);
    });
    const run = ask(at.socketPath, ['/slow', '/b']);
    await new Promise((done) => setTimeout(done, 20));
    run.closers[0]?.();
    await new Promise((done) => setTimeout(done, 120));
    expect(run.calls).toEqual([[], ['head 200', 'body second', 'end']]);
    await new Promise((done) => setTimeout(done, 20));
    expect(closedByClient).toBe(true);
  });

  it('every GET closed by its caller before any answer ends the connection at once', async () => {
    let closedAt: number | undefined;
    const at = await serve('all-closed', () => 2, (socket) => {
      socket.on('close', () => (closedAt = Date.now()));
      setTimeout(() => socket.writable && socket.end(answer('late') + answer('later')), 500);
    });
    const run = ask(at.socketPath, ['/a', '/b']);
    await new Promise((done) => setTimeout(done, 30));
    for (const close of run.closers) close();
    // Well before the endpoint would answer (and then close): the client closed it.
    await new Promise((done) => setTimeout(done, 100));
    expect(closedAt).toBeDefined();
    expect(run.calls).toEqual([[], []]);
  });
});
