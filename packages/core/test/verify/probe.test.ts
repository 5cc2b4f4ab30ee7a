import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probe } from '../../src/verify/http.js';
import { parseUserPresets } from '../../src/presets/user-presets.js';
import { InvalidConfigError } from '../../src/errors.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function serve(port: number, handler: Parameters<typeof createServer>[1]): Promise<number | undefined> {
  server = createServer(handler);
  return new Promise((resolve) => {
    server!.once('error', () => resolve(undefined));
    server!.listen(port, '127.0.0.1', () => resolve((server!.address() as AddressInfo).port));
  });
}

describe('probe', () => {
  it('reaches a mirror on a port fetch refuses (WHATWG bad port), as dockerd does', async (ctx) => {
    const port = await serve(10080, (_req, res) => res.end('{}'));
    if (port === undefined) ctx.skip();
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

  it('rejects within the timeout when the answer never ends', async () => {
    const port = await serve(0, (_req, res) => res.writeHead(200).write('{'));
    const started = Date.now();
    await expect(probe(`http://127.0.0.1:${port}/v2/`, { method: 'GET' }, 300)).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('user presets and built-in names', () => {
  it('refuses a name that differs from a built-in only by case, and duplicates', () => {
    expect(() => parseUserPresets('{"Local": {"url": "http://10.0.0.1:5000"}}', '/p.json')).toThrow(/name of a built-in preset/);
    expect(parseUserPresets('{"Local": {"url": "http://10.0.0.1:5000", "override": true}}', '/p.json')[0]).toMatchObject({ overrides: true });
    expect(() => parseUserPresets('{"a": {"url": "https://a.example"}, "A": {"url": "https://b.example"}}', '/p.json')).toThrow(InvalidConfigError);
  });
});
