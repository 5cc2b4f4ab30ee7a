/**
 * A Docker Engine on a unix socket whose behaviour a test scripts, for what a real dockerd will not do on demand:
 * `/events` headers that come late, a reload taken without its event or shown in `/info` only later, an `/info`
 * that fails or hangs right after a reload, a list of running containers. It is "reloaded" the way a service
 * manager tells a daemon: a real `curl` to its socket ({@link ScriptedEngine.reloadCommand}, also run by the fake
 * `systemctl` of {@link writeFakeSystemctl}), and it then reads its daemon.json as dockerd would. One per test
 * file; {@link ScriptedEngine.reset} before each test, {@link ScriptedEngine.stop} in afterAll.
 */
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { isolated } from './hermetic.js';
import { answer, serve } from './hostile-server.js';

/** What the engine does; {@link ScriptedEngine.reset} puts back a well-behaved daemon. */
export interface EngineScript {
  /** Delay before the `/events` response headers. */
  eventsDelayMs: number;
  /** Whether a reload sends the `reload` event. */
  event: boolean;
  /**
   * The registry settings the event carries in `Actor.Attributes`, as dockerd 20.10 up does: `file` for the
   * file's keys (what dockerd reports), given lists for a report of other settings, `none` for no attributes.
   */
  reports: 'none' | 'file' | { mirrors: string[]; insecure: string[] };
  /** Whether a reload takes the file (its mirror keys become /info's), and how long after the event. */
  take: boolean;
  takeLagMs: number;
  /** Answers for the next `/info` requests, first one first; an empty queue answers the live settings. */
  infoQueue: ((socket: Socket) => void)[];
  /** The `/containers/json` body; undefined answers 404. */
  containers: string | undefined;
}

/** A running scripted engine. */
export interface ScriptedEngine {
  /** `unix://<socket>`. */
  endpoint: string;
  /** The argv that reloads it, as a plan's command: a real curl to its socket. */
  reloadCommand: string[];
  /** This test's script. */
  script: EngineScript;
  /** Its live registry settings, as `/info` shows them. */
  live: { mirrors: string[]; insecure: string[] };
  /** Every request's path, in order. */
  requests: string[];
  /** Open `/events` subscriptions. */
  events: Set<Socket>;
  /** How many `/events` subscriptions were ever opened. */
  eventsOpened: number;
  /** The `/info` body for the live settings. */
  info(): string;
  /** Runs `work` after `ms`, unless {@link reset} or {@link stop} comes first. */
  later(ms: number, work: () => void): void;
  /** A well-behaved daemon with no mirrors, reading `file` on reload; drops pending work and subscriptions. */
  reset(file: string): void;
  /** Closes its socket and every subscription. */
  stop(): Promise<void>;
}

/** Starts a scripted engine at `<dir>/<name>.sock`. */
export async function startScriptedEngine(dir: string, name = 'engine'): Promise<ScriptedEngine> {
  const servers: Server[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let file = '';
  const engine: ScriptedEngine = {
    endpoint: '',
    reloadCommand: [],
    script: wellBehaved(),
    live: { mirrors: [], insecure: [] },
    requests: [],
    events: new Set<Socket>(),
    eventsOpened: 0,
    info: () =>
      JSON.stringify({
        ServerVersion: '20.10.24',
        RegistryConfig: {
          Mirrors: engine.live.mirrors,
          IndexConfigs: Object.fromEntries(engine.live.insecure.map((h) => [h, { Name: h, Secure: false, Official: false }])),
          InsecureRegistryCIDRs: ['127.0.0.0/8'],
        },
      }),
    later(ms, work) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        work();
      }, ms);
      timers.add(timer);
    },
    reset(next) {
      file = next;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const s of engine.events) s.destroy();
      Object.assign(engine, { script: wellBehaved(), live: { mirrors: [], insecure: [] }, requests: [], eventsOpened: 0 });
    },
    async stop() {
      engine.reset('');
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };

  /** A reload as dockerd takes it: the file's mirror keys, when present, become the live ones. */
  const reload = (): void => {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { 'registry-mirrors'?: string[]; 'insecure-registries'?: string[] };
    const take = (): void => {
      if (json['registry-mirrors']) engine.live.mirrors = json['registry-mirrors'].map((m) => `${m.replace(/\/+$/, '')}/`);
      if (json['insecure-registries']) engine.live.insecure = json['insecure-registries'];
    };
    const { script } = engine;
    if (script.take && script.takeLagMs === 0) take();
    if (script.event) for (const s of engine.events) s.write(`${reloadEvent(script.reports, json)}\n`);
    if (script.take && script.takeLagMs > 0) engine.later(script.takeLagMs, take);
  };

  engine.endpoint = await serve(dir, servers, name, (url, socket) => {
    engine.requests.push(url);
    const { script } = engine;
    if (/\/_ping$/.test(url)) return void socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK');
    if (/\/version$/.test(url)) return answer(socket, '200 OK', JSON.stringify({ Version: '20.10.24', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux' }));
    if (/\/info$/.test(url)) {
      const next = script.infoQueue.shift();
      return next ? next(socket) : answer(socket, '200 OK', engine.info());
    }
    if (/\/events\?/.test(url)) {
      return engine.later(script.eventsDelayMs, () => {
        if (socket.destroyed) return;
        engine.eventsOpened += 1;
        engine.events.add(socket);
        socket.once('close', () => engine.events.delete(socket));
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n');
      });
    }
    if (/\/containers\/json/.test(url) && script.containers !== undefined) return answer(socket, '200 OK', script.containers);
    if (/\/dm\/reload$/.test(url)) {
      reload();
      return answer(socket, '200 OK', '{}');
    }
    answer(socket, '404 Not Found', '{"message":"not in the scripted engine"}');
  });
  engine.reloadCommand = ['curl', '-sf', '--unix-socket', engine.endpoint.slice('unix://'.length), 'http://docker/dm/reload'];
  return engine;
}

function wellBehaved(): EngineScript {
  return { eventsDelayMs: 0, event: true, reports: 'none', take: true, takeLagMs: 0, infoQueue: [], containers: '[]' };
}

/** A `reload` event line, with the attributes `reports` asks for (dockerd sends each list as a JSON string). */
function reloadEvent(reports: EngineScript['reports'], json: { 'registry-mirrors'?: string[]; 'insecure-registries'?: string[] }): string {
  const lists = reports === 'file' ? { mirrors: json['registry-mirrors'] ?? [], insecure: json['insecure-registries'] ?? [] } : reports;
  const Attributes =
    lists === 'none' ? {} : { 'registry-mirrors': JSON.stringify(lists.mirrors), 'insecure-registries': JSON.stringify(lists.insecure), name: 'scripted' };
  return JSON.stringify({ Type: 'daemon', Action: 'reload', Actor: { ID: 'x', Attributes } });
}

/**
 * A fake `systemctl` in `<dir>/bin`: every call is appended to `<dir>/calls.log`; `reload` and `restart` reload
 * `engine`; `cat` prints `<dir>/unit.txt` when there is one. Returns the folder to put first on PATH.
 */
export async function writeFakeSystemctl(dir: string, engine: ScriptedEngine): Promise<string> {
  const bin = path.join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const unit = JSON.stringify(path.join(dir, 'unit.txt'));
  await writeFile(
    path.join(bin, 'systemctl'),
    `#!/bin/sh
echo "systemctl $*" >> ${JSON.stringify(path.join(dir, 'calls.log'))}
case "$*" in
  *reload*|*restart*) exec ${engine.reloadCommand.map((w) => `'${w}'`).join(' ')} ;;
  *cat*) [ -f ${unit} ] && cat ${unit} ;;
esac
exit 0
`,
  );
  await chmod(path.join(bin, 'systemctl'), 0o755);
  return bin;
}

/** What {@link useScriptedEngine} sets up: valid inside tests and hooks registered after it. */
export interface ScriptedEngineFixture {
  /** The test file's temp folder. */
  dir: string;
  engine: ScriptedEngine;
  /** The engine's `unix://` endpoint. */
  endpoint: string;
  /** This test's own daemon.json, holding `mirror` and no insecure registries, which the engine reads. */
  file: string;
  /**
   * Options of a core call on this test's file and engine, told it runs under systemd (the fake one), isolated
   * from this machine: its state folder beside the file, a 5 s deadline; `extra` adds or overrides.
   */
  options(extra?: Record<string, unknown>): Record<string, unknown>;
}

/**
 * The usual file-level setup: one scripted engine for the file with the fake `systemctl` first on PATH (the
 * apply step and the flag-conflict check run systemctl from this process's PATH), and before each test a fresh
 * daemon.json listing `mirror`, the unit file gone and the engine well-behaved again.
 */
export function useScriptedEngine(prefix: string, mirror: string): ScriptedEngineFixture {
  const fx = {
    options: (extra = {}) => ({
      ...isolated(fx.dir),
      dockerHost: fx.endpoint,
      env: { DOCKMIRROR_SETUP: 'systemd' },
      configFile: fx.file,
      stateDir: `${fx.file}.state`,
      timeoutMs: 5_000,
      ...extra,
    }),
  } as ScriptedEngineFixture;
  let savedPath: string | undefined;
  let n = 0;
  beforeAll(async () => {
    fx.dir = await mkdtemp(path.join(tmpdir(), prefix));
    fx.engine = await startScriptedEngine(fx.dir);
    fx.endpoint = fx.engine.endpoint;
    savedPath = process.env.PATH;
    process.env.PATH = `${await writeFakeSystemctl(fx.dir, fx.engine)}:${savedPath ?? ''}`;
  });
  afterAll(async () => {
    process.env.PATH = savedPath;
    await fx.engine?.stop();
    await rm(fx.dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    fx.file = path.join(fx.dir, `daemon-${++n}.json`);
    await writeFile(fx.file, `{\n  "registry-mirrors": ["${mirror}"],\n  "insecure-registries": []\n}\n`);
    await rm(path.join(fx.dir, 'unit.txt'), { force: true });
    fx.engine.reset(fx.file);
  });
  afterEach(() => fx.engine.reset(fx.file));
  return fx;
}
