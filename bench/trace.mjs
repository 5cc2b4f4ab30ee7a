// Where one dockmirror run spends its time, observed from outside: loaded with `node --import ./trace.mjs`, it
// wraps node:fs, node:fs/promises, process.kill, Module._load and listens on node:http's diagnostics channels,
// then writes a timeline to $BENCH_TRACE_FILE when the process exits. The CLI is not changed for it; runs that
// are timed for the ratios are never traced.
//
// Categories (wall ms, overlapping calls of one category counted once):
//   startup      process start -> the first thing the command does (reads its file, /proc, the endpoint...),
//                split into runner (-> the command's module is requested: oclif's start-up, or the fast
//                path's decision for the hot commands) and modules (loading the command's modules and core's,
//                parsing flags)
//   client       loading node:http (0 now: the Engine client speaks HTTP/1.1 over node:net, which start-up loads)
//   discovery    /proc reads (the dockerd scan, socket proof), the docker CLI's config and contexts
//   api          Engine API calls before the daemon is told (ping, version, info; not the /events stream)
//   write        opening, writing, fsyncing, renaming, unlinking files in the bench folder (daemon.json, state)
//   read         reading daemon.json, the journal and backups in the bench folder
//   reload       the SIGHUP -> the end of the last Engine API answer (the change confirmed live)
// Built-ins through getBuiltinModule, not import: an imported built-in's ES module facade reads all its exports
// (several ms for node:fs), which would count as the CLI's start-up.
const dc = process.getBuiltinModule('node:diagnostics_channel');
const fs = process.getBuiltinModule('node:fs');
const Module = process.getBuiltinModule('node:module');
const { syncBuiltinESMExports } = Module;

const workDir = process.env.BENCH_TRACE_DIR ?? '\0';
const outFile = process.env.BENCH_TRACE_FILE;
const spans = []; // [category, start, end, label]
let firstWork;
let hup;

const now = () => performance.now();
function record(category, start, end, label) {
  spans.push([category, start, end, label]);
  if (category !== 'client' && (firstWork === undefined || start < firstWork)) firstWork = start;
}

/** The category of an fs call on `target`, or undefined for files that are none of the bench's business. */
function categoryOf(target, writing) {
  const p = typeof target === 'string' ? target : target instanceof URL ? target.pathname : Buffer.isBuffer(target) ? target.toString() : undefined;
  if (p === undefined) return undefined;
  // Processes and sockets; not /proc/version and friends, which start-up code reads (WSL detection).
  if (p === '/proc' || /^\/proc\/(\d+|net|self)(\/|$)/.test(p)) return 'discovery';
  if (/\/\.docker(\/|$)/.test(p)) return 'discovery';
  if (p.startsWith(workDir)) return writing ? 'write' : 'read';
  return undefined;
}

const WRITING = /^(write|append|rename|unlink|rm|mkdir|fsync|fdatasync|ftruncate|truncate|chmod|chown|fchmod|fchown|copyFile|link|symlink|utimes|futimes)/;
const fdCategory = new Map();
const handleCategory = new WeakMap();

const isWriteOpen = (flags) =>
  typeof flags === 'string' ? /[wa+]/.test(flags) : typeof flags === 'number' && (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT)) !== 0;
const pathOf = (target) => (typeof target === 'string' ? ` ${target}` : '');

function wrapSync(object, name) {
  const original = object[name];
  if (typeof original !== 'function') return;
  object[name] = function traced(...args) {
    const fdCall = typeof args[0] === 'number';
    const writing = WRITING.test(name) || (name.startsWith('open') && isWriteOpen(args[1]));
    let category = fdCall ? fdCategory.get(args[0]) : categoryOf(args[0], writing);
    if (category === 'read' && (writing || WRITING.test(name.replace(/^f/, '')))) category = 'write';
    if (category === undefined) return original.apply(this, args);
    const start = now();
    try {
      const result = original.apply(this, args);
      if (name === 'openSync' && typeof result === 'number') fdCategory.set(result, category);
      if (name === 'closeSync') fdCategory.delete(args[0]);
      return result;
    } finally {
      record(category, start, now(), name.startsWith('readdir') && args[0] === '/proc' ? 'scan /proc' : `${name}${pathOf(args[0])}`);
    }
  };
}

function wrapPromise(object, name) {
  const original = object[name];
  if (typeof original !== 'function') return;
  object[name] = async function traced(...args) {
    const writing = WRITING.test(name) || (name === 'open' && isWriteOpen(args[1]));
    const category = categoryOf(args[0], writing);
    if (category === undefined) return original.apply(this, args);
    const start = now();
    try {
      const result = await original.apply(this, args);
      if (name === 'open' && result && typeof result === 'object') handleCategory.set(result, category);
      return result;
    } finally {
      record(category, start, now(), `promises.${name}${pathOf(args[0])}`);
    }
  };
}

for (const name of Object.keys(fs)) if (name.endsWith('Sync')) wrapSync(fs, name);
for (const name of Object.keys(fs.promises)) wrapPromise(fs.promises, name);

// FileHandle methods: a handle opened on a bench file keeps its category (writes and syncs count as write).
const probe = await fs.promises.open(process.execPath, 'r');
const FileHandle = Object.getPrototypeOf(probe);
await probe.close();
for (const name of ['read', 'readFile', 'write', 'writeFile', 'sync', 'datasync', 'chmod', 'chown', 'truncate', 'close', 'stat']) {
  const original = FileHandle[name];
  FileHandle[name] = async function traced(...args) {
    let category = handleCategory.get(this);
    if (category === undefined) return original.apply(this, args);
    if (/^(write|sync|datasync|chmod|chown|truncate)/.test(name)) category = 'write';
    const start = now();
    try {
      return await original.apply(this, args);
    } finally {
      record(category, start, now(), `handle.${name}`);
    }
  };
}
syncBuiltinESMExports();

// Loading node:http, through require or import: the Engine client no longer does (http1.ts speaks HTTP/1.1 over
// node:net), so this stays 0 unless something else starts loading it.
const load = Module._load;
Module._load = function traced(request, ...rest) {
  if (request !== 'node:http' && request !== 'http') return load.call(this, request, ...rest);
  const start = now();
  try {
    return load.call(this, request, ...rest);
  } finally {
    record('client', start, now(), 'require node:http');
  }
};

// When the runner asks for the command's code: the end of oclif's own start-up (a command module), or of the
// fast path's decision (apps/cli/src/fast.ts), which reads the command bodies' script, dist/fast-run.js.
let commandAt;
let commandCpu;
const commandAsked = () => {
  if (commandAt !== undefined) return;
  commandAt = now();
  commandCpu = process.cpuUsage();
};
Module.registerHooks?.({
  load(url, context, nextLoad) {
    if (/\/dist\/commands\//.test(url)) commandAsked();
    return nextLoad(url, context);
  },
});
const readFileSync = fs.readFileSync;
fs.readFileSync = function traced(file, ...rest) {
  if (/\/dist\/fast-run\.js$/.test(file instanceof URL ? file.pathname : String(file))) commandAsked();
  return readFileSync.call(this, file, ...rest);
};
syncBuiltinESMExports();

const kill = process.kill;
process.kill = function traced(pid, signal) {
  if (signal === 'SIGHUP' && hup === undefined) hup = now();
  return kill.call(this, pid, signal);
};

// Engine API calls, one connection each (packages/core/src/daemon/http1.ts): from net.connect to the socket's
// close, named by the request line written on it. The /events subscription is a stream that stays open over the
// reload: its headers (the first bytes back) count as an API call, the rest of its life does not.
const net = process.getBuiltinModule('node:net');
const connect = net.connect;
net.connect = function traced(...args) {
  const socket = connect.apply(this, args);
  const start = now();
  let label;
  const write = socket.write;
  socket.write = function tracedWrite(chunk, ...rest) {
    // A greeting writes several requests at once, on one connection (sendGets): each is named.
    label ??= [...String(chunk).matchAll(/^([A-Z]+ [^ ?\r\n]*)[^\r\n]* HTTP\/1\.1\r$/gm)].map((m) => m[1]).join(' + ') || undefined;
    return write.call(this, chunk, ...rest);
  };
  socket.once('data', () => {
    if (label === 'GET /events') record('api', start, now(), 'GET /events (headers)');
  });
  socket.once('close', () => {
    if (label === undefined || label === 'GET /events') return;
    if (hup !== undefined && start >= hup) record('reload', start, now(), label);
    else record('api', start, now(), label);
  });
  return socket;
};

process.on('exit', () => {
  if (!outFile) return;
  const end = now();
  const union = (category) => {
    const list = spans.filter((s) => s[0] === category).map(([, a, b]) => [a, b]).sort((x, y) => x[0] - y[0]);
    let total = 0;
    let [from, to] = [Number.NaN, Number.NaN];
    for (const [a, b] of list) {
      if (!(a <= to)) {
        if (to === to) total += to - from;
        [from, to] = [a, b];
      } else to = Math.max(to, b);
    }
    if (to === to) total += to - from;
    return total;
  };
  const lastApi = Math.max(...spans.filter((s) => s[0] === 'reload').map((s) => s[2]), Number.NEGATIVE_INFINITY);
  const result = {
    total: end,
    startup: firstWork ?? end,
    runner: commandAt ?? firstWork ?? end,
    client: union('client'),
    discovery: union('discovery'),
    api: union('api'),
    write: union('write'),
    read: union('read'),
    // The whole window, polls included: from the SIGHUP to the answer that confirmed the change.
    reload: hup !== undefined && lastApi > hup ? lastApi - hup : 0,
    // CPU time (user + system, every thread of the process): of the whole run, and from the command's module on
    // (core's share and the command's). What a loaded machine inflates least.
    cpu: (({ user, system }) => (user + system) / 1000)(process.cpuUsage()),
    commandCpu: commandCpu ? (({ user, system }) => (user + system) / 1000)(process.cpuUsage(commandCpu)) : 0,
    counts: Object.fromEntries(['discovery', 'api', 'reload', 'write', 'read'].map((c) => [c, spans.filter((s) => s[0] === c).length])),
    procScans: spans.filter((s) => s[3] === 'scan /proc').length,
    // Flushes to disk (each costs a device round trip) and reads of the journal: what a change pays for its safety.
    fsyncs: spans.filter((s) => /(^|\.)f?(data)?sync(Sync)?$/.test(s[3])).length,
    journalReads: spans.filter((s) => s[0] === 'read' && /open(Sync)? .*\/journal\.jsonl$/.test(s[3])).length,
    ...(process.env.BENCH_TRACE_SPANS ? { spans: spans.map(([c, a, b, l]) => `${a.toFixed(1)} +${(b - a).toFixed(1)} ${c} ${l}`) } : {}),
    calls: spans.filter((s) => s[0] === 'api' || s[0] === 'reload').map((s) => s[3]),
  };
  fs.writeFileSync(outFile, JSON.stringify(result));
});
