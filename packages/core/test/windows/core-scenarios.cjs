// Run by node.exe under Wine (see wine-core.test.ts): many core scenarios in one Windows process, since each
// Wine start costs far more than the scenarios. argv: <core dist folder> <cli scripts folder> <work folder>
// <result file>, all in Windows spelling. Each scenario's outcome (or error) goes into the JSON result file.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const [dist, scripts, work, resultFile] = process.argv.slice(2);
const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);
const results = {};

async function scenario(name, fn) {
  try {
    results[name] = { ok: true, value: await fn() };
  } catch (error) {
    results[name] = { ok: false, error: { code: error.code, message: error.message, hint: error.hint, details: error.details } };
  }
}

const EXLOCK = 0x10000000; // libuv's UV_FS_O_EXLOCK: open with no sharing at all

(async () => {
  const core = await load('index.js');
  const { samePath, pathKey } = await load('support/same-path.js');
  const { writeAtomic } = await load('support/atomic-write.js');
  const { detectSetup } = await load('daemon/setup.js');
  const { applyMethodFor } = await load('daemon/service.js');
  const { createEngine } = await load('daemon/engine.js');
  const fixtures = JSON.parse(fs.readFileSync(path.join(work, 'fixtures.json'), 'utf8'));

  await scenario('platform', () => ({ platform: process.platform, sep: path.sep, programData: process.env.ProgramData, home: require('node:os').homedir() }));

  await scenario('locate-default', () => core.locateDaemonConfig());

  await scenario('same-path', () => ({
    differentCase: samePath('C:\\CI\\Daemon.json', 'c:\\ci\\daemon.json'),
    slashes: samePath('C:/CI/Daemon.json', 'c:\\ci\\.\\daemon.json'),
    nonAscii: samePath('C:\\Users\\ZOË\\daemon.json', 'c:\\users\\zoë\\daemon.json'),
    otherFile: samePath('C:\\CI\\daemon.json', 'C:\\CI\\daemon.json.bak'),
    key: pathKey('c:\\ci\\daemon.json'),
    // What the file system says: both spellings open the same file.
    fsAgrees: (() => {
      const dir = path.join(work, 'Case');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'Daemon.json'), 'x');
      return fs.readFileSync(path.join(work.toLowerCase(), 'case', 'daemon.json'), 'utf8') === 'x';
    })(),
  }));

  // Recorded /info and /version shapes (see fixtures.json) meeting real win32 defaults.
  for (const [name, fixture] of Object.entries(fixtures)) {
    await scenario(`setup-${name}`, async () => {
      const setup = await detectSetup({ endpoint: fixture.endpoint, info: fixture.info, version: fixture.version, ...(fixture.context ? { context: fixture.context } : {}) });
      let plan;
      try {
        plan = applyMethodFor(setup, 'auto').command;
      } catch (error) {
        plan = { refused: error.message, hint: error.hint };
      }
      return { kind: setup.kind, engineFile: setup.engineFile, engine: setup.engine, logHint: setup.logHint, plan };
    });
  }

  await scenario('rename-retried-until-released', async () => {
    const target = path.join(work, 'retry', 'daemon.json');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, 'old');
    // An editor's handle (shared): under Windows rules a rename over the file fails until it is closed.
    const fd = fs.openSync(target, 'r');
    let closedAfterFailure = false;
    await writeAtomic(target, Buffer.from('new'), {
      mode: 0o644,
      beforeRename: async () => {
        // Closed only after the first rename attempt has had time to fail.
        setTimeout(() => {
          closedAfterFailure = true;
          fs.closeSync(fd);
        }, 300);
      },
    });
    return { bytes: fs.readFileSync(target, 'utf8'), closedAfterFailure, left: fs.readdirSync(path.dirname(target)) };
  });

  await scenario('rename-held-for-good', async () => {
    const target = path.join(work, 'held', 'daemon.json');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, 'old');
    const fd = fs.openSync(target, 'r');
    try {
      await writeAtomic(target, Buffer.from('new'), { mode: 0o644 });
      return { wrote: true };
    } catch (error) {
      return {
        code: error.code,
        message: error.message,
        hint: error.hint,
        errno: error.details && error.details.errno,
        bytes: fs.readFileSync(target, 'utf8'),
        left: fs.readdirSync(path.dirname(target)),
      };
    } finally {
      fs.closeSync(fd);
    }
  });

  await scenario('read-exclusively-locked', async () => {
    const target = path.join(work, 'exclusive', 'daemon.json');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, '{}');
    const fd = fs.openSync(target, fs.constants.O_RDONLY | EXLOCK);
    try {
      await core.readDaemonConfig(target);
      return { read: true };
    } catch (error) {
      return { code: error.code, message: error.message, hint: error.hint };
    } finally {
      fs.closeSync(fd);
    }
  });

  await scenario('bundle-entries', async () => {
    const { bundleEntries } = await import(pathToFileURL(path.join(scripts, 'entries.mjs')).href);
    return bundleEntries(path.join(scripts, '..'));
  });

  await scenario('named-pipe', async () => {
    // A stand-in Engine on a real Windows named pipe (no Docker runs here): the client reaches it through npipe://.
    const pipe = `\\\\.\\pipe\\dockmirror-test-${process.pid}`;
    const server = http.createServer((req, res) => {
      if (req.url === '/_ping') res.end('OK');
      else res.writeHead(404).end('{}');
    });
    await new Promise((resolve, reject) => server.listen(pipe, resolve).on('error', reject));
    try {
      const engine = createEngine(`npipe:////./pipe/dockmirror-test-${process.pid}`);
      const up = await engine.ping(5000);
      const missing = await createEngine('npipe:////./pipe/dockmirror-no-such-pipe').ping(2000);
      return { up, missing };
    } finally {
      server.close();
    }
  });

  fs.writeFileSync(resultFile, JSON.stringify(results, null, 2));
})().catch((error) => {
  fs.writeFileSync(resultFile, JSON.stringify({ fatal: String(error && error.stack) }));
  process.exitCode = 1;
});
