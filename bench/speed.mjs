// Issue 14's three ratios, measured side by side in one run on a real dockerd (interleaved runs, medians), and
// where dockmirror's time goes (bench/trace.mjs). Starts its own dockerd in a temp dir (recipe:
// shared/reference/testbed.md) and stops it by pid. Needs root, dockerd, the docker CLI and the built CLI.
//
//   node bench/speed.mjs [rounds]          (default 15 timed rounds, 7 traced ones)
//   BENCH_BASELINE_CLI=/path/to/bin/run.js  also times another build in the same rounds (before/after)
//   BENCH_KEEP=1                            keeps the temp dir
//
// The manual way is the unsafe one people script: jq edits the file (or, without jq, python3's json module:
// the same cost class, one interpreter start and a parse and dump), `kill -HUP` the pid, and `docker info` is
// polled until the mirror shows (or is gone).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { cli, median, root, socketGet } from './lib.mjs';

const rounds = Number(process.argv[2] ?? 15);
const tracedRounds = Number(process.env.BENCH_TRACED ?? 7);
const baseline = process.env.BENCH_BASELINE_CLI;
const dir = mkdtempSync('/tmp/dm-speed-');
const socket = path.join(dir, 'docker.sock');
const pidFile = path.join(dir, 'dockerd.pid');
const daemonFile = path.join(dir, 'daemon.json');
const bigFile = path.join(dir, 'big', 'daemon.json');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hasJq = spawnSync('jq', ['--version']).status === 0;

/** GET on the test daemon's socket: the body, or undefined. */
const api = (pathname) => socketGet(socket, pathname, 10_000);
const liveMirrors = async () => JSON.parse((await api('/info')) ?? '{}').RegistryConfig?.Mirrors ?? [];

// The manual way, as a script people write. One edit: jq (or python3 json), then SIGHUP, then poll.
const editor = hasJq
  ? {
      add: `jq --arg m "$M" --arg h "$H" '.["registry-mirrors"] = [$m] + (.["registry-mirrors"] // []) | .["insecure-registries"] = (.["insecure-registries"] // []) + [$h]' "$F" > "$F.tmp" && mv "$F.tmp" "$F"`,
      remove: `jq --arg m "$M" --arg h "$H" '.["registry-mirrors"] -= [$m] | .["insecure-registries"] -= [$h]' "$F" > "$F.tmp" && mv "$F.tmp" "$F"`,
      name: 'jq',
    }
  : {
      add: `python3 -c 'import json,sys; f,m,h=sys.argv[1:]; d=json.load(open(f)); d["registry-mirrors"]=[m]+d.get("registry-mirrors",[]); d["insecure-registries"]=d.get("insecure-registries",[])+[h]; json.dump(d,open(f+".tmp","w"),indent=2)' "$F" "$M" "$H" && mv "$F.tmp" "$F"`,
      remove: `python3 -c 'import json,sys; f,m,h=sys.argv[1:]; d=json.load(open(f)); d["registry-mirrors"]=[x for x in d.get("registry-mirrors",[]) if x!=m]; d["insecure-registries"]=[x for x in d.get("insecure-registries",[]) if x!=h]; json.dump(d,open(f+".tmp","w"),indent=2)' "$F" "$M" "$H" && mv "$F.tmp" "$F"`,
      name: 'python3 json',
    };
const poll = (present) =>
  `until docker -H "unix://$S" info --format '{{json .RegistryConfig.Mirrors}}' | grep -q${present ? '' : 'v'}F "\\"$M/\\""; do :; done`;
const manualScript = (edit, present) => `set -e\n${edit}\nkill -HUP "$(cat "$P")"\n${poll(present)}\n`;
writeFileSync(path.join(dir, 'manual-add.sh'), manualScript(editor.add, true));
writeFileSync(path.join(dir, 'manual-remove.sh'), manualScript(editor.remove, false));
const bigEdit = hasJq
  ? `jq --arg m "$M" '.["registry-mirrors"] = [$m] + (.["registry-mirrors"] // [])' "$F" > "$F.tmp" && mv "$F.tmp" "$F"`
  : `python3 -c 'import json,sys; f,m=sys.argv[1:]; d=json.load(open(f)); d["registry-mirrors"]=[m]+d.get("registry-mirrors",[]); json.dump(d,open(f+".tmp","w"),indent=2)' "$F" "$M" && mv "$F.tmp" "$F"`;
writeFileSync(path.join(dir, 'manual-big.sh'), `set -e\n${bigEdit}\n`);

const mirror = 'http://127.0.0.1:5999';
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DOCKMIRROR_') && k !== 'DEBUG'));
Object.assign(env, { NO_COLOR: '1', DOCKER_HOST: `unix://${socket}`, M: mirror, H: '127.0.0.1:5999', F: daemonFile, S: socket, P: pidFile });

/**
 * One command's wall and CPU ms (user + system, its children included), measured by bash's `time` around it so
 * both sides pay the same wrapper; throws when it fails. CPU time is what a loaded machine inflates least.
 */
function time(argv, extraEnv = {}) {
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="@@time %3R %3U %3S"; time "$@" >/dev/null', 'time', ...argv], {
    env: { ...env, ...extraEnv },
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const m = /@@time ([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { wall: Number(m[1]) * 1000, cpu: (Number(m[2]) + Number(m[3])) * 1000 };
}
const plus = (a, b) => ({ wall: a.wall + b.wall, cpu: a.cpu + b.cpu });

const labels = [];
for (let n = 0, size = 0; size < 1_000_000; n++) {
  labels.push(`label-${n}=${'x'.repeat(40)}`);
  size += labels[n].length + 6;
}
const bigBytes = `${JSON.stringify({ debug: false, 'registry-mirrors': ['https://base.example'], labels }, null, 2)}\n`;
const resetBig = () => {
  rmSync(path.join(dir, 'big'), { recursive: true, force: true });
  mkdirSync(path.join(dir, 'big'));
  writeFileSync(bigFile, bigBytes);
};

/** The dockmirror side of each work item, for a CLI at `bin`. */
const dockmirror = (bin) => {
  const state = ['--state-dir', path.join(dir, `state-${bin === cli ? 'new' : 'old'}`)];
  return {
    addRemove: async () => {
      const add = time([process.execPath, bin, 'mirror', 'add', mirror, '--config-file', daemonFile, ...state]);
      if ((await liveMirrors())[0] !== `${mirror}/`) throw new Error('dockmirror add exited 0 but the mirror is not live');
      const remove = time([process.execPath, bin, 'mirror', 'remove', mirror, '--config-file', daemonFile, ...state]);
      if ((await liveMirrors()).length !== 0) throw new Error('dockmirror remove exited 0 but the mirror is still live');
      return plus(add, remove);
    },
    list: (trace) => time([process.execPath, ...trace(), bin, 'mirror', 'list', '--config-file', daemonFile, ...state]),
    addNone: (trace) => {
      resetBig();
      const ms = time([process.execPath, ...trace(), bin, 'mirror', 'add', mirror, '--apply', 'none', '--config-file', bigFile]);
      if (!readFileSync(bigFile, 'utf8').includes(mirror)) throw new Error('add --apply none did not write the mirror');
      return ms;
    },
  };
};
const manual = {
  addRemove: async () => {
    const add = time(['bash', path.join(dir, 'manual-add.sh')]);
    if ((await liveMirrors())[0] !== `${mirror}/`) throw new Error('the manual add did not make the mirror live');
    const remove = time(['bash', path.join(dir, 'manual-remove.sh')]);
    if ((await liveMirrors()).length !== 0) throw new Error('the manual remove left the mirror live');
    return plus(add, remove);
  },
  list: () => time([process.execPath, '-e', '0']),
  addNone: () => {
    resetBig();
    return time(['bash', path.join(dir, 'manual-big.sh')], { F: bigFile });
  },
};

let dockerdPid;
try {
  if (process.getuid?.() !== 0) throw new Error('bench/speed.mjs needs root (it starts dockerd)');
  if (!existsSync(cli)) throw new Error(`build first: ${cli} is missing`);
  writeFileSync(daemonFile, '{\n  "storage-driver": "vfs",\n  "iptables": false,\n  "bridge": "none"\n}\n');
  const dockerd = spawn(
    'dockerd',
    ['--config-file', daemonFile, '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'), '-H', `unix://${socket}`, '-p', pidFile],
    { stdio: ['ignore', 'ignore', 'ignore'], detached: true },
  );
  dockerdPid = dockerd.pid;
  for (let i = 0; i < 200 && (await api('/_ping')) !== 'OK'; i++) await sleep(50);
  if ((await api('/_ping')) !== 'OK') throw new Error('dockerd did not start');
  const version = JSON.parse((await api('/version')) ?? '{}').Version;

  const sides = { new: dockmirror(cli), ...(baseline ? { old: dockmirror(baseline) } : {}), manual };
  const noTrace = () => [];
  const works = ['addRemove', 'list', 'addNone'];
  const times = Object.fromEntries(Object.keys(sides).map((s) => [s, Object.fromEntries(works.map((w) => [w, []]))]));
  const loads = [loadavg()[0]];
  // Warm-up round (compile cache, page cache), then interleaved rounds; the order of the sides alternates.
  for (let round = -1; round < rounds; round++) {
    const order = Object.keys(sides);
    if (round % 2) order.reverse();
    for (const work of works) {
      for (const side of order) {
        const ms = await sides[side][work](noTrace);
        if (round >= 0) times[side][work].push(ms);
      }
    }
    loads.push(loadavg()[0]);
  }

  // Traced runs, apart from the timed ones: where each dockmirror run spends its time.
  const traces = {};
  const traceFile = path.join(dir, 'trace.json');
  const withTrace = () => ['--import', path.join(root, 'bench', 'trace.mjs')];
  const traceEnv = { BENCH_TRACE_DIR: dir, BENCH_TRACE_FILE: traceFile };
  Object.assign(env, traceEnv);
  const collect = (label) => {
    (traces[label] ??= []).push(JSON.parse(readFileSync(traceFile, 'utf8')));
    rmSync(traceFile, { force: true });
  };
  const state = ['--state-dir', path.join(dir, 'state-new')];
  for (let i = 0; i < tracedRounds; i++) {
    time([process.execPath, ...withTrace(), cli, 'mirror', 'add', mirror, '--config-file', daemonFile, ...state]);
    collect('add (reload, live)');
    time([process.execPath, ...withTrace(), cli, 'mirror', 'remove', mirror, '--config-file', daemonFile, ...state]);
    collect('remove (reload, live)');
    dockmirror(cli).list(withTrace);
    collect('mirror list (live)');
    dockmirror(cli).addNone(withTrace);
    collect('add --apply none, 1 MB');
  }
  for (const key of Object.keys(traceEnv)) delete env[key];

  const m = (side, work, key = 'wall') => median(times[side][work].map((t) => t[key]));
  const ratio = (side, work, key = 'wall') => m(side, work, key) / m('manual', work, key);
  const row = (title, work, manualText, goal) => {
    const before = baseline ? ` (before: ${m('old', work).toFixed(0)} ms, ${ratio('old', work).toFixed(1)}x)` : '';
    return `| ${title} | ${m('new', work).toFixed(0)} ms | ${m('manual', work).toFixed(0)} ms (${manualText}) | ${ratio('new', work).toFixed(1)}x${before} | <= ${goal}x |`;
  };
  console.log(`\nIssue 14: dockmirror against the manual way, dockerd ${version}, ${rounds} interleaved rounds, medians`);
  console.log(`machine: ${cpus().length} cores; 1-min load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} (median ${median(loads).toFixed(1)}) during the rounds`);
  console.log('\n| work | dockmirror | the manual way | ratio | goal |');
  console.log('|---|---|---|---|---|');
  const items = [
    ['add + remove a mirror, each confirmed live', 'addRemove', `${editor.name} edit, SIGHUP, poll \`docker info\`, twice`, '2.0'],
    ['`mirror list` with the live column, daemon running', 'list', 'bare `node -e 0`', '3.0'],
    ['`add --apply none` on a 1 MB daemon.json', 'addNone', `a ${editor.name} edit of the same file`, '2.0'],
  ];
  for (const item of items) console.log(row(...item));
  // The same runs by CPU time (user + system, children included): a shared machine's load stretches wall time
  // by waiting for a core, which CPU time leaves out.
  console.log('\nCPU time of the same runs (ms, medians):');
  for (const [title, work] of items) {
    const before = baseline ? `, before ${m('old', work, 'cpu').toFixed(0)} (${ratio('old', work, 'cpu').toFixed(1)}x)` : '';
    console.log(`  ${title}: ${m('new', work, 'cpu').toFixed(0)} against ${m('manual', work, 'cpu').toFixed(0)}, ${ratio('new', work, 'cpu').toFixed(1)}x${before}`);
  }

  const categories = ['startup', 'client', 'discovery', 'api', 'read', 'write', 'reload'];
  const shown = ['startup', 'runner', ...categories.slice(1)];
  console.log(`\nWhere dockmirror's time goes (ms, medians of ${tracedRounds} traced runs; bench/trace.mjs adds a little to each)`);
  console.log('  startup = process start to the first thing the command does, of it runner = until the command\'s module is');
  console.log('  asked for (oclif, or the fast path); the rest loads our modules and parses flags; the others are wall time with at least one such');
  console.log('  call outstanding (async calls overlap, so they need not add up); other = the rest (JS work: parse, plan, print);');
  console.log('  cpu = CPU time of the process, cmd cpu = of it from the command\'s module on (core\'s share and the command\'s).');
  console.log(`  ${'run'.padEnd(26)}${['total', ...shown, 'other', 'cpu', 'cmd cpu'].map((c) => c.padStart(10)).join('')}   /proc scans; fsyncs; journal reads; API calls`);
  for (const [label, list] of Object.entries(traces)) {
    const med = (key) => median(list.map((t) => t[key]));
    const other = median(list.map((t) => t.total - categories.reduce((sum, c) => sum + t[c], 0)));
    const calls = list.at(-1).calls.join(', ');
    console.log(`  ${label.padEnd(26)}${[med('total'), ...shown.map(med), other, med('cpu'), med('commandCpu')].map((v) => v.toFixed(1).padStart(10)).join('')}   ${median(list.map((t) => t.procScans))}; ${median(list.map((t) => t.fsyncs ?? 0))}; ${median(list.map((t) => t.journalReads ?? 0))}; ${calls || 'none'}`);
  }
} finally {
  if (dockerdPid) {
    try {
      process.kill(dockerdPid, 'SIGTERM');
    } catch {}
    for (let i = 0; i < 200; i++) {
      try {
        if (readFileSync(`/proc/${dockerdPid}/stat`, 'utf8').split(' ')[2] === 'Z') break;
      } catch {
        break;
      }
      await sleep(50);
    }
  }
  if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
