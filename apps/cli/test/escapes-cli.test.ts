// Terminal escapes from files other people write (a presets file, daemon.json, a file name) never reach the
// screen raw: no cleared screen, no line overwritten by a carriage return, no forged line. With colour off the
// output holds no control character but the line feed and the tab; with colour on, only dockmirror's own SGR
// colour codes. The Engine is a fake on a unix socket whose version, mirrors and registries carry escapes.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeControls, toScreen } from '../src/output.js';
import { dockmirror, type CliRun } from './verify-helpers.js';

const ATTACK = '\u001b[2J\r\u2713 daemon reloaded\n\u2713 forged line\u009b31m\u0007\b';
/** What {@link ATTACK} looks like once escaped. */
const SHOWN = '\\x1b[2J\\x0d\u2713 daemon reloaded\\x0a\u2713 forged line\\u009b31m\\x07\\x08';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-escapes-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Every control character in the output except the line feed and the tab; with colour, also minus dockmirror's SGR codes. */
function controls(run: CliRun, colour = false): string[] {
  let text = `${run.stdout}${run.stderr}`;
  if (colour) text = text.replace(/\u001b\[(?:1|2|22|31|32|33|36|39)m/g, '');
  return [...text.matchAll(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g)].map((m) => JSON.stringify(m[0]));
}

async function sandbox(name: string) {
  const root = path.join(dir, name);
  await mkdir(path.join(root, 'config', 'dockmirror'), { recursive: true });
  const env = { HOME: root, XDG_CONFIG_HOME: path.join(root, 'config'), PATH: '/usr/bin:/bin', DOCKER_HOST: 'unix:///nonexistent/dockmirror-test.sock' };
  const file = path.join(root, 'daemon.json');
  return {
    root,
    file,
    presets: path.join(root, 'config', 'dockmirror', 'presets.json'),
    run: (args: string[], extra: Record<string, string> = {}) =>
      dockmirror([...args, '--config-file', file, '--state-dir', path.join(root, 'state')], { ...env, ...extra }),
  };
}

describe('escapeControls', () => {
  it('leaves no control character but the tab, and is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const shown = escapeControls(text);
        expect(shown).not.toMatch(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/);
        expect(escapeControls(shown)).toBe(shown);
        expect(toScreen(text)).toBe(shown); // text from outside cannot spell paint()'s own marker
      }),
    );
  });
});

describe('terminal escapes', () => {
  it('a presets description with a clear-screen, a CR and a LF is shown escaped, colour off and on', async () => {
    const box = await sandbox('presets');
    await writeFile(box.presets, JSON.stringify({ team: { url: 'https://mirror.team.example', description: `Team${ATTACK}` } }));
    const plain = await box.run(['presets']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(controls(plain)).toEqual([]);
    expect(plain.stdout).toContain(`         Team${SHOWN}\n`);

    const coloured = await box.run(['presets'], { NO_COLOR: '', FORCE_COLOR: '1' });
    expect(coloured.code, coloured.stderr).toBe(0);
    expect(coloured.stdout).toContain('\u001b[36mteam'); // dockmirror's own colours survive
    expect(controls(coloured, true)).toEqual([]);
    expect(coloured.stdout).toContain(`Team${SHOWN}`);
  });

  it('--json escapes the C1 controls JSON.stringify leaves raw, and the value reads back the same', async () => {
    const box = await sandbox('json');
    await writeFile(box.presets, JSON.stringify({ team: { url: 'https://mirror.team.example', description: `Team${ATTACK}` } }));
    const run = await box.run(['presets', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(controls(run)).toEqual([]);
    const report = JSON.parse(run.stdout) as { presets: { name: string; description: string }[] };
    expect(report.presets.find((p) => p.name === 'team')?.description).toBe(`Team${ATTACK}`);
  });

  it('a warning carrying escapes (a bad preset URL) is shown escaped; the built-in presets are listed', async () => {
    const box = await sandbox('bad-url');
    await writeFile(box.presets, JSON.stringify({ evil: { url: `https://x${ATTACK}` } }));
    for (const colour of [false, true]) {
      const run = await box.run(['presets'], colour ? { NO_COLOR: '', FORCE_COLOR: '1' } : {});
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/preset "evil"/);
      expect(controls(run, colour)).toEqual([]);
    }
  });

  it('a file name with escapes in an error is shown escaped', async () => {
    const box = await sandbox('file-name');
    const evil = path.join(box.root, `daemon${ATTACK}.json`);
    await mkdir(evil); // a folder where daemon.json should be: an error that names the path
    const run = await dockmirror(['mirror', 'add', 'http://127.0.0.1:5000', '--apply', 'none', '--config-file', evil, '--state-dir', path.join(box.root, 'state')], {
      DOCKER_HOST: 'unix:///nonexistent/dockmirror-test.sock',
    });
    expect(run.code).toBe(3);
    expect(controls(run)).toEqual([]);
    expect(run.stderr).toContain(`daemon${SHOWN}.json`);
  });

  it('a dry-run diff of a daemon.json holding raw C1 controls, DEL and a lone CR shows them escaped, file untouched', async () => {
    const box = await sandbox('diff');
    // Strict JSON allows all of these raw: U+009B and DEL inside a string, a lone CR as whitespace.
    const bytes = Buffer.from('{\n  "data-root": "/srv/docker\u009b2J\u007f",\r  "debug": true\n}\n', 'utf8');
    await writeFile(box.file, bytes);
    const run = await box.run(['mirror', 'add', 'http://127.0.0.1:5000', '--dry-run', '--apply', 'none']);
    expect(run.code, run.stderr).toBe(0);
    expect(controls(run)).toEqual([]);
    expect(run.stdout).toContain('\n-  "data-root": "/srv/docker\\u009b2J\\x7f",\\x0d  "debug": true\n');
    expect(run.stdout).toMatch(/^\+ {2}"registry-mirrors": \[$/m);
    expect(await readFile(box.file)).toEqual(bytes);
  });

  it('what an Engine endpoint says (version, live mirrors, registries) is shown escaped by status and mirror list', async () => {
    const box = await sandbox('engine');
    const socket = path.join(box.root, 'engine.sock');
    const engine = http.createServer((req, res) => {
      const url = req.url ?? '';
      res.setHeader('Api-Version', '1.41');
      if (url.endsWith('/_ping')) return res.end('OK');
      res.setHeader('Content-Type', 'application/json');
      if (url.includes('/version')) return res.end(JSON.stringify({ Version: `20.10.99${ATTACK}`, ApiVersion: '1.41', Os: 'linux' }));
      const registries = { Mirrors: [`https://evil.example/${ATTACK}`], InsecureRegistryCIDRs: [], IndexConfigs: { [`evil${ATTACK}:5000`]: { Name: `evil${ATTACK}:5000`, Secure: false, Mirrors: [] } } };
      if (url.includes('/info')) return res.end(JSON.stringify({ ServerVersion: `20.10.99${ATTACK}`, OperatingSystem: `Linux${ATTACK}`, RegistryConfig: registries }));
      res.statusCode = 404;
      res.end(JSON.stringify({ message: `no such thing${ATTACK}` }));
    });
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    try {
      const dockerHost = `unix://${socket}`;
      for (const colour of [false, true]) {
        const extra = { DOCKER_HOST: dockerHost, ...(colour ? { NO_COLOR: '', FORCE_COLOR: '1' } : {}) };
        const status = await box.run(['status'], extra);
        expect(status.code, status.stderr).toBe(0);
        expect(controls(status, colour)).toEqual([]);
        expect(status.stdout).toContain(`dockerd 20.10.99${SHOWN}`);
        const list = await box.run(['mirror', 'list'], extra);
        expect(list.code, list.stderr).toBe(0);
        expect(controls(list, colour)).toEqual([]);
        expect(list.stdout).toContain(`https://evil.example/${SHOWN}`);
      }
    } finally {
      await new Promise((resolve) => engine.close(resolve));
    }
  });
});
