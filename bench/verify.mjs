// How long `dockmirror mirror verify <url>` (no pull) takes against a live registry and against mirrors that
// cannot answer: a closed loopback port, and a server that accepts connections but never replies.
// Plain node; starts its own docker-registry on a random loopback port and stops it by pid.
// Run after a build: node bench/verify.mjs [runs]   (BENCH_DOCKER_HOST=unix:///... to include a real daemon)
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../apps/cli/bin/run.js', import.meta.url));
const runs = Number(process.argv[2] ?? 10);
const dir = await mkdtemp(path.join(tmpdir(), 'dm-bench-verify-'));
const dockerHost = process.env.BENCH_DOCKER_HOST ?? `unix://${path.join(dir, 'no-daemon.sock')}`;

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}
const probeServer = createServer();
const closedPort = await listen(probeServer);
await new Promise((resolve) => probeServer.close(resolve));
const silentSockets = new Set();
const silent = createServer((socket) => silentSockets.add(socket));
const silentPort = await listen(silent);

async function startRegistry() {
  const free = createServer();
  const port = await listen(free);
  await new Promise((resolve) => free.close(resolve));
  const yml = path.join(dir, 'registry.yml');
  await writeFile(yml, `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/registry}}\nhttp: {addr: 127.0.0.1:${port}}\n`);
  const child = spawn('docker-registry', ['serve', yml], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(500) })).ok) return { url, pid: child.pid, child };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error('docker-registry did not start');
}

function run(args) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, NO_COLOR: '1' } });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
  });
}

async function measure(label, args, n = runs) {
  await run(args); // warm-up (compile cache)
  const times = [];
  let code;
  for (let i = 0; i < n; i++) {
    const r = await run(args);
    times.push(r.ms);
    code = r.code;
  }
  times.sort((a, b) => a - b);
  const median = times.length % 2 ? times[times.length >> 1] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
  console.log(`  ${label.padEnd(52)} ${median.toFixed(0).padStart(6)} ms  (min ${times[0].toFixed(0)}, max ${times.at(-1).toFixed(0)}, n=${n}, exit ${code})`);
}

const registry = await startRegistry();
try {
  const configFile = path.join(dir, 'daemon.json');
  const mirrors = [registry.url, `http://127.0.0.1:${closedPort}`, `http://127.0.0.1:${silentPort}`];
  await writeFile(configFile, JSON.stringify({ 'registry-mirrors': mirrors }));
  const common = ['--config-file', configFile, '--docker-host', dockerHost];
  console.log(`\nmirror verify, no pull (median of ${runs}; daemon: ${dockerHost}${process.env.BENCH_DOCKER_HOST ? '' : ', absent: live fails fast'})`);
  await measure('startup only: dockmirror --version', ['--version']);
  await measure('local registry, api only', ['mirror', 'verify', registry.url, ...common]);
  await measure('local registry, --image alpine:3.16.2 (404)', ['mirror', 'verify', registry.url, '--image', 'alpine:3.16.2', ...common]);
  await measure('closed port (refused)', ['mirror', 'verify', mirrors[1], '--image', 'alpine', ...common]);
  await measure('accepts, never answers, --timeout 1', ['mirror', 'verify', mirrors[2], '--image', 'alpine', '--timeout', '1', ...common]);
  await measure('accepts, never answers, default timeout (5 s)', ['mirror', 'verify', mirrors[2], '--image', 'alpine', ...common], Math.min(runs, 3));
  await measure('all three mirrors from daemon.json, --timeout 1', ['mirror', 'verify', '--timeout', '1', ...common]);
} finally {
  process.kill(registry.pid, 'SIGTERM');
  await new Promise((resolve) => (registry.child.exitCode === null ? registry.child.once('exit', resolve) : resolve()));
  for (const socket of silentSockets) socket.destroy();
  silent.close();
  await rm(dir, { recursive: true, force: true });
}
