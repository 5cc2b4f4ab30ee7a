import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probe } from '../../src/verify/http.js';
import { parseUserPresets } from '../../src/presets/user-presets.js';
import { InvalidConfigError } from '../../src/errors.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

function serve(port: number, handler: Parameters<typeof createServer>[1]): Promise<number> {
  server = createServer(handler);
  return new Promise((resolve, reject) => {
    server!.once('error', reject);
    server!.listen(port, '127.0.0.1', () => resolve((server!.address() as AddressInfo).port));
  });
}

// The ports above 1023 that fetch refuses to dial (the WHATWG "bad port" list). A random free port would not be
// one, so take the first of these that is free; all of them busy fails the test, it never skips.
const BAD_PORTS = [10080, 6697, 6679, 6669, 6668, 6667, 6666, 6665, 6566, 6000, 5061, 5060, 4190, 4045, 3659, 2049, 1723, 1720, 1719];

async function serveOnBadPort(handler: Parameters<typeof createServer>[1]): Promise<number> {
  for (const port of BAD_PORTS) {
    const bound = await serve(port, handler).catch(() => undefined);
    if (bound !== undefined) return bound;
  }
  throw new Error(`every WHATWG bad port is busy on 127.0.0.1 (${BAD_PORTS.join(', ')}); free one to run this test`);
}

describe('probe', () => {
  it('reaches a mirror on a port fetch refuses (WHATWG bad port), as dockerd does', async () => {
    const port = await serveOnBadPort((_req, res) => res.end('{}'));
    const res = await probe(`http://127.0.0.1:${port}/v2/`, { method: 'GET' }, 2000);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('{}');
    await expect(fetch(`http://127.0.0.1:${port}/v2/`)).rejects.toThrow();
  });

  it('follows redirects within the deadline and keeps headers readable', async () => {
    const port = await serve(0, (req, res) => {
      if (req.url === '/a') res.writeHead(307, { location: '/b' }).end();
      else res.writeHead(200, { 'docker-content-digest': 'sha256:abc' }).end('ok');
    });
    const res = await probe(`http://127.0.0.1:${port}/a`, { method: 'GET' }, 2000);
    expect(res.status).toBe(200);
    expect(res.headers.get('Docker-Content-Digest')).toBe('sha256:abc');
  });

  // The bound is the guarantee: a 300 ms probe timeout under a 10 s test timeout, so a hang fails the test.
  it('rejects within the timeout when the answer never ends', async () => {
    const port = await serve(0, (_req, res) => res.writeHead(200).write('{'));
    await expect(probe(`http://127.0.0.1:${port}/v2/`, { method: 'GET' }, 300)).rejects.toMatchObject({ name: 'AbortError' });
  }, 10_000);
});

describe('user presets and built-in names', () => {
  it('refuses a name that differs from a built-in only by case, and duplicates', () => {
    expect(() => parseUserPresets('{"Local": {"url": "http://10.0.0.1:5000"}}', '/p.json')).toThrow(/name of a built-in preset/);
    expect(parseUserPresets('{"Local": {"url": "http://10.0.0.1:5000", "override": true}}', '/p.json')[0]).toMatchObject({ overrides: true });
    expect(() => parseUserPresets('{"a": {"url": "https://a.example"}, "A": {"url": "https://b.example"}}', '/p.json')).toThrow(InvalidConfigError);
  });
});
