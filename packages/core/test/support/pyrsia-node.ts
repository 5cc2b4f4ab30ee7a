/**
 * A Pyrsia node emulator for tests: a node:http server on 127.0.0.1 in front of a real registry, reproducing the
 * quirks documented in /work/shared/reference/pyrsia.md (GET-only /v2/ with `{}` and no version header, HEAD -> 500,
 * only official single-name images routed, schema-2 manifests without Docker-Content-Digest, the 200-with-errors
 * bug, /status, /inspect/docker and an access log). Plus a fake `pyrsia` CLI for the presets tests.
 */
import { appendFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Options for {@link startPyrsiaNode}. */
export interface PyrsiaNodeOptions {
  /** The real registry the node fetches from, e.g. `http://127.0.0.1:5000`. */
  upstream: string;
  /** Reproduce the open bug: a missing manifest answers 200 with an `{"errors":[...]}` body instead of 404. */
  errorBodyWith200?: boolean;
  /** Transparency-log entries `POST /inspect/docker` returns, per image (`alpine:3.16.2`); default none. */
  inspectEntries?: Record<string, unknown[]>;
  /** Also append each access-log line to this file, as a node started with its output in a log file does. */
  accessLogFile?: string;
}

/** A running emulator. */
export interface PyrsiaNode {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Access-log lines in the real node's format, oldest first. */
  accessLog: string[];
  /** Replaces the inspect-log entries. */
  setInspectEntries(entries: Record<string, unknown[]>): void;
  /** Stops the server. */
  close(): Promise<void>;
}

const SCHEMA2 = 'application/vnd.docker.distribution.manifest.v2+json';
const UNKNOWN = JSON.stringify({ errors: [{ code: { Unknown: '' }, message: 'Unhandled rejection' }] });

/** Starts the emulator on a random loopback port. */
export async function startPyrsiaNode(options: PyrsiaNodeOptions): Promise<PyrsiaNode> {
  const accessLog: string[] = [];
  let inspect = options.inspectEntries ?? {};
  const upstream = options.upstream.replace(/\/+$/, '');
  const server = createServer((req, res) => {
    const started = Date.now();
    res.on('finish', () => {
      const remote = `${req.socket.remoteAddress ?? '-'}:${req.socket.remotePort ?? 0}`;
      const line = `INFO pyrsia_registry > ${remote} "${req.method} ${req.url} HTTP/${req.httpVersion}" ${res.statusCode} "-" "${req.headers['user-agent'] ?? '-'}" ${Date.now() - started}ms`;
      accessLog.push(line);
      if (options.accessLogFile) appendFileSync(options.accessLogFile, `${line}\n`);
    });
    handle(req, res).catch(() => send(res, 500, UNKNOWN));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://node');
    const p = url.pathname;
    if (req.method === 'GET' && (p === '/v2' || p === '/v2/')) return send(res, 200, '{}');
    if (req.method === 'GET' && p === '/status') {
      return send(res, 200, JSON.stringify({ peers_count: 0, peer_id: '12D3KooWEmulatedPyrsiaNode', peer_addrs: [] }));
    }
    if (req.method === 'POST' && p === '/inspect/docker') {
      const body = JSON.parse(await readBody(req)) as { image?: string };
      return send(res, 200, JSON.stringify(inspect[body.image ?? ''] ?? []));
    }
    const m = /^\/v2\/library\/([a-z0-9._-]+)\/(manifests|blobs)\/([^/]+)$/.exec(p);
    if (req.method !== 'GET' || !m) return send(res, 500, UNKNOWN);
    const [, name, kind, ref] = m;
    const up = await fetch(`${upstream}/v2/library/${name}/${kind}/${ref}`, {
      headers: { accept: SCHEMA2 },
      signal: AbortSignal.timeout(10_000),
    });
    const bytes = Buffer.from(await up.arrayBuffer());
    if (!up.ok) {
      const errors = JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: `${name}:${ref} not found; build started` }] });
      return send(res, kind === 'manifests' && options.errorBodyWith200 ? 200 : 404, errors);
    }
    res.writeHead(200, { 'content-type': kind === 'manifests' ? SCHEMA2 : 'application/octet-stream', 'content-length': bytes.length });
    res.end(bytes);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    accessLog,
    setInspectEntries(entries) {
      inspect = entries;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function send(res: ServerResponse, status: number, body: string): void {
  // No Docker-Distribution-Api-Version header, ever: that absence is how a Pyrsia node is recognised.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** What the fake `pyrsia config --show` prints. */
export type FakePyrsiaOutput =
  | { quotes: 'single' | 'double'; host?: string; port?: string }
  | { error: 'no-config-path' | 'no-node' }
  | { stdout: string };

/** Renders the text the real CLI prints for an {@link FakePyrsiaOutput}. */
export function pyrsiaConfigShowText(output: FakePyrsiaOutput, configPath = '/home/user/.config/pyrsia-cli/default-config.toml'): string {
  if ('stdout' in output) return output.stdout;
  if ('error' in output) {
    return output.error === 'no-node'
      ? 'No Node Configured: run pyrsia config --add first\n'
      : 'Error retrieving config file path: no home directory\n';
  }
  const q = output.quotes === 'single' ? "'" : '"';
  return `Config file path: ${configPath}\nhost = ${q}${output.host ?? '0.0.0.0'}${q}\nport = ${q}${output.port ?? '7888'}${q}\ndisk_allocated = ${q}10 GB${q}\n`;
}

/**
 * Writes an executable `pyrsia` into `binDir` whose `config --show` prints the given output. Like the real CLI it
 * exits 0 in every case. It is a /bin/sh script using only the `printf` builtin, so it works with any PATH.
 */
export async function writeFakePyrsiaCli(binDir: string, output: FakePyrsiaOutput): Promise<string> {
  await mkdir(binDir, { recursive: true });
  const file = path.join(binDir, 'pyrsia');
  const quoted = `'${pyrsiaConfigShowText(output).replaceAll("'", `'\\''`)}'`;
  const script = `#!/bin/sh\nif [ "$1" = config ] && [ "$2" = --show ]; then\n  printf '%s' ${quoted}\nfi\nexit 0\n`;
  await writeFile(file, script);
  await chmod(file, 0o755);
  return file;
}
