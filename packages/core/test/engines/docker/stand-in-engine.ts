/**
 * A stand-in Docker Engine on a unix socket, for what cannot run here: Docker 29 on the containerd image store.
 * It answers `/_ping`, `/version` and `/info`, the last with a recorded `GET /info` shape from
 * ../containerd/fixtures (each fixture's "//" says where its shape comes from), and 404 to anything else, so a
 * reload or pull the code under test sends would show in `requests`. Started once per test file.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The recorded /info answers. */
export type InfoFixture = 'info-20.10-vfs.json' | 'info-28-overlay2.json' | 'info-29-containerd-store.json' | 'info-desktop-containerd-store.json';

/** One recorded /info answer, parsed. */
export function recordedInfo(name: InfoFixture): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../containerd/fixtures/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

/** A running stand-in Engine. */
export interface StandInEngine {
  /** `unix://<socket>`, for `--docker-host`. */
  endpoint: string;
  /** Every request as `METHOD path`, in order. */
  requests: string[];
  /** Which /info it answers with from now on; `mirrors` replaces its RegistryConfig.Mirrors (daemon.json's view). */
  answer(name: InfoFixture, mirrors?: string[]): void;
  /** Closes the socket. */
  stop(): Promise<void>;
}

/** Starts a stand-in Engine answering with `name` until {@link StandInEngine.answer} says otherwise. */
export async function startStandInEngine(name: InfoFixture): Promise<StandInEngine> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-stand-in-'));
  const socket = path.join(dir, 'engine.sock');
  let info = recordedInfo(name);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    requests.push(`${req.method ?? '?'} ${url}`);
    res.setHeader('Api-Version', '1.41');
    if (url.endsWith('/_ping')) return res.end('OK');
    res.setHeader('Content-Type', 'application/json');
    const version = String(info.ServerVersion ?? '29.0.0');
    if (/\/version$/.test(url)) return res.end(JSON.stringify({ Version: version, ApiVersion: '1.41', MinAPIVersion: '1.24', Os: 'linux' }));
    if (/\/info$/.test(url)) return res.end(JSON.stringify(info));
    res.statusCode = 404;
    res.end(JSON.stringify({ message: 'not in the stand-in' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, resolve);
  });
  return {
    endpoint: `unix://${socket}`,
    requests,
    answer(next, mirrors) {
      info = recordedInfo(next);
      if (mirrors) info = { ...info, RegistryConfig: { ...(info.RegistryConfig as object), Mirrors: mirrors } };
    },
    async stop() {
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
