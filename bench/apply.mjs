// Time from `dockmirror add` to the change being live on a real dockerd 20.10, reload against restart, and
// what each does to running containers. Starts its own dockerd and docker-registry in a temp dir (recipe:
// shared/reference/testbed.md) and stops them by pid at the end. Needs root, dockerd, docker-registry and the
// built CLI. Usage: node bench/apply.mjs [runs]   (BENCH_KEEP=1 keeps the temp dir and dockerd.log)
//
// reload:  plain dockerd, `--apply auto` -> SIGHUP to its pid.
// restart: DOCKMIRROR_SETUP=systemd with a fake `systemctl` whose `restart docker` stops this dockerd and starts
//          it again with the same flags, `--apply restart --yes` (no live-restore: containers are stopped).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { cli, median, socketGet, table } from './lib.mjs';

const runs = Number(process.argv[2] ?? 10);
const dir = mkdtempSync('/tmp/dmb-');
const socket = path.join(dir, 'docker.sock');
const pidFile = path.join(dir, 'dockerd.pid');
const configFile = path.join(dir, 'daemon.json');
const dockerdArgs = [
  ...['--config-file', configFile, '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec')],
  ...['-H', `unix://${socket}`, '-p', pidFile],
  ...['--storage-driver', 'vfs', '--iptables=false', '--bridge', 'none', '--shutdown-timeout', '2'],
];
const sh = (word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** GET on the test daemon's socket; resolves to the body, or undefined when it does not answer. */
const api = (pathname, timeoutMs = 2_000) => socketGet(socket, pathname, timeoutMs);
const docker = (...args) => execFileSync('docker', ['-H', `unix://${socket}`, ...args], { encoding: 'utf8' }).trim();
async function liveMirrors() {
  const t0 = Date.now();
  const body = await api('/info', 10_000);
  if (body === undefined) throw new Error('GET /info did not answer within 10 s');
  if (Date.now() - t0 > 1_000) console.log(`  (GET /info took ${Date.now() - t0} ms)`);
  return JSON.parse(body).RegistryConfig?.Mirrors ?? [];
}
const alive = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
  } catch {
    return false;
  }
};

// The control script is shared by this process and the fake systemctl, so "restart" means one thing.
const ctl = path.join(dir, 'ctl.sh');
writeFileSync(
  ctl,
  `#!/bin/bash
T=${sh(dir)}
alive() { local s; s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1; [ -n "$s" ] && [ "$s" != Z ]; }
start() {
  setsid dockerd ${dockerdArgs.map(sh).join(' ')} >>"$T/dockerd.log" 2>&1 </dev/null &
  echo $! >"$T/dockerd.lastpid"
  for _ in $(seq 1 300); do
    curl -sf --max-time 2 --unix-socket "$T/docker.sock" http://localhost/_ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}
stop() {
  local pid; pid=$(cat "$T/dockerd.pid" 2>/dev/null || cat "$T/dockerd.lastpid") || return 0
  local containerd; containerd=$(cat "$T/exec/containerd/containerd.pid" 2>/dev/null)
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.05; done
  alive "$pid" && kill -KILL "$pid"
  [ -n "$containerd" ] && alive "$containerd" && kill -KILL "$containerd"
  return 0
}
case "$1" in start) start ;; stop) stop ;; restart) stop && start ;; esac
`,
  { mode: 0o755 },
);
const fakebin = path.join(dir, 'fakebin');
mkdirSync(fakebin);
writeFileSync(
  path.join(fakebin, 'systemctl'),
  `#!/bin/bash
case "$*" in
  *restart*docker*) exec ${sh(ctl)} restart ;;
  *reload*docker*) kill -HUP "$(cat ${sh(pidFile)})" ;;
esac
`,
);
chmodSync(path.join(fakebin, 'systemctl'), 0o755);

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A tiny image of /bin/sleep and its libraries (no internet needed). */
function importSleepImage(ref) {
  const rootfs = path.join(dir, 'rootfs');
  const libs = [...execFileSync('ldd', ['/bin/sleep'], { encoding: 'utf8' }).matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1]);
  for (const file of ['/bin/sleep', ...libs]) {
    mkdirSync(path.join(rootfs, path.dirname(file)), { recursive: true });
    copyFileSync(file, path.join(rootfs, file));
  }
  execFileSync('tar', ['-C', rootfs, '-chf', path.join(dir, 'rootfs.tar'), '.']);
  docker('import', '--change', 'CMD ["/bin/sleep","3600"]', path.join(dir, 'rootfs.tar'), ref);
}

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DOCKMIRROR_')));
Object.assign(env, { NO_COLOR: '1', DOCKER_HOST: `unix://${socket}` });

/** One `dockmirror` run; returns its wall time and its --json result. */
function dockmirror(args, extraEnv = {}) {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [cli, ...args, '--json', '--config-file', configFile, '--state-dir', path.join(dir, 'state')], {
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`dockmirror ${args.join(' ')} exited ${r.status}: ${r.stdout}${r.stderr}`);
  return { ms, result: JSON.parse(r.stdout) };
}

const inspect = (id) => JSON.parse(docker('inspect', '--format', '{"running":{{.State.Running}},"startedAt":{{json .State.StartedAt}},"pid":{{.State.Pid}},"restartCount":{{.RestartCount}}}', id));

/** `runs` times: add (timed until the process exits, which is after it saw the change in /info), then rollback. */
async function series(name, mirror, args, extraEnv) {
  const containers = {
    'no restart policy': docker('run', '-d', '--network', 'none', '--stop-signal', 'SIGKILL', 'dm-sleep:1'),
    '--restart always': docker('run', '-d', '--network', 'none', '--stop-signal', 'SIGKILL', '--restart', 'always', 'dm-sleep:1'),
  };
  const seen = Object.fromEntries(Object.entries(containers).map(([k, id]) => [k, { first: inspect(id), starts: new Set([inspect(id).startedAt]) }]));
  const wall = [];
  const applied = [];
  const daemonPids = new Set([readFileSync(pidFile, 'utf8').trim()]);
  for (let i = 0; i < runs; i++) {
    const add = dockmirror(['add', mirror, ...args], extraEnv);
    const live = await liveMirrors();
    if (live[0] !== `${mirror}/`) throw new Error(`${name}: add exited 0 but /info shows ${JSON.stringify(live)}`);
    wall.push(add.ms);
    applied.push(add.result.apply.elapsedMs);
    daemonPids.add(readFileSync(pidFile, 'utf8').trim());
    for (const [label, id] of Object.entries(containers)) seen[label].starts.add(inspect(id).startedAt);
    dockmirror(['rollback', ...args], extraEnv);
    if ((await liveMirrors()).length !== 0) throw new Error(`${name}: rollback left mirrors live`);
    daemonPids.add(readFileSync(pidFile, 'utf8').trim());
    for (const [label, id] of Object.entries(containers)) seen[label].starts.add(inspect(id).startedAt);
  }
  const outcome = Object.fromEntries(
    Object.entries(containers).map(([label, id]) => {
      const now = inspect(id);
      const same = now.running && now.pid === seen[label].first.pid && now.startedAt === seen[label].first.startedAt;
      const text = same
        ? `kept running (same pid, RestartCount ${now.restartCount})`
        : `${now.running ? 'running again' : 'STOPPED'}; started ${seen[label].starts.size - 1} more time(s), RestartCount ${now.restartCount}`;
      return [label, text];
    }),
  );
  docker('rm', '-f', ...Object.values(containers));
  return { name, wall, applied, daemonRestarts: daemonPids.size - 1, outcome };
}

let registryPid;
try {
  if (process.getuid?.() !== 0) throw new Error('bench/apply.mjs needs root (it starts dockerd)');
  if (!existsSync(cli)) throw new Error(`build first: ${cli} is missing`);
  writeFileSync(configFile, '{}\n');
  const port = await freePort();
  writeFileSync(path.join(dir, 'registry.yml'), `version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: ${dir}/registry}}\nhttp: {addr: 127.0.0.1:${port}}\n`);
  const registry = spawn('docker-registry', ['serve', path.join(dir, 'registry.yml')], { stdio: 'ignore', detached: true });
  registryPid = registry.pid;
  execFileSync(ctl, ['start']);
  for (let i = 0; i < 100 && !(await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false)); i++) await sleep(50);
  importSleepImage('dm-sleep:1');
  const mirror = `http://127.0.0.1:${port}`;

  const results = [
    await series('reload (SIGHUP)', mirror, [], {}),
    await series('restart (no live-restore)', mirror, ['--apply', 'restart', '--yes'], {
      DOCKMIRROR_SETUP: 'systemd',
      PATH: `${fakebin}:${process.env.PATH}`,
    }),
  ];
  const dockerdVersion = JSON.parse((await api('/version')) ?? '{}').Version;
  table(`dockmirror add -> live config, dockerd ${dockerdVersion}, ${runs} runs each (ms; median [min-max])`, [
    ...results.flatMap((r) => [
      [`${r.name}: CLI wall time`, median(r.wall).toFixed(0), `[${Math.min(...r.wall).toFixed(0)}-${Math.max(...r.wall).toFixed(0)}]`],
      [`${r.name}: tell -> seen in /info`, median(r.applied).toFixed(0), `[${Math.min(...r.applied)}-${Math.max(...r.applied)}] (apply.elapsedMs)`],
    ]),
  ]);
  // RestartCount counts only restarts by a restart policy after the container exits; a daemon restart that
  // starts a `--restart always` container again leaves it at 0, so the StartedAt changes are counted too.
  table('running containers across the series (each run: add, then rollback; --stop-signal SIGKILL)', [
    ...results.flatMap((r) => [
      [`${r.name}: dockerd restarts (add + rollback)`, r.daemonRestarts],
      ...Object.entries(r.outcome).map(([label, text]) => [`  container, ${label}`, '', text]),
    ]),
  ]);
} finally {
  const left = spawnSync('docker', ['-H', `unix://${socket}`, 'ps', '-aq'], { encoding: 'utf8' }).stdout?.trim();
  if (left) spawnSync('docker', ['-H', `unix://${socket}`, 'rm', '-f', ...left.split('\n')]);
  spawnSync(ctl, ['stop']);
  if (registryPid && alive(registryPid)) {
    process.kill(registryPid, 'SIGTERM');
    for (let i = 0; i < 50 && alive(registryPid); i++) await sleep(50);
  }
  if (process.env.BENCH_KEEP) console.log(`kept ${dir}`); else rmSync(dir, { recursive: true, force: true });
}
