// The real dockerd 20.10 is the judge of mirror URLs: each case is written to its daemon.json and reloaded, and
// the daemon's answer (the reloaded live list, or its refusal in the log) must be what the net/url model says.
// dockmirror itself may refuse more (URLs dockerd takes but cannot use), never less, and never writes anything
// but what was typed, up to scheme/host case and one trailing slash.
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/daemon/engine.js';
import { dockerdValidateMirror } from '../../src/mirror/net-url.js';
import { validateMirror } from '../../src/mirror/url.js';
import { startTestbed, type Testbed } from '../support/testbed.js';

let tb: Testbed;
let engine: Engine;

beforeAll(async () => {
  tb = await startTestbed();
  engine = createEngine(tb.dockerHost);
});
afterAll(async () => {
  await tb?.stop();
});

/** Writes the mirror, reloads, and reads dockerd's answer: the live list after a reload, or the refusal logged. */
async function dockerdSays(mirror: string): Promise<{ accepted: true; value: string } | { accepted: false; log: string }> {
  const from = (await readFile(tb.logFile, 'utf8')).length;
  await writeFile(tb.configFile, `${JSON.stringify({ 'registry-mirrors': [mirror] })}\n`);
  await tb.reload();
  for (let i = 0; i < 200; i++) {
    const log = (await readFile(tb.logFile, 'utf8')).slice(from);
    if (/Reloaded configuration/.test(log)) return { accepted: true, value: (await engine.liveRegistry()).mirrors.join(' ') };
    const refused = /level=error msg="([^\n]*)/.exec(log);
    if (refused) return { accepted: false, log: refused[1] ?? '' };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`dockerd neither reloaded nor refused ${JSON.stringify(mirror)}`);
}

const CASES = [
  'http://127.0.0.1:5000', 'HTTP://Mirror.Example:5000/', 'https://m.example/', 'http://h:80', 'http://[::1]:5000',
  'http://bücher.de', 'http://0x7f.1:5000', 'http://h:', 'http://h:99999', 'http://a<b>', 'http://%C3%A9.com', 'http:h',
  'http:\\\\host', 'http://h?', 'http://h#',
  // Refused by dockerd, though WHATWG URL accepts them all (and would write something else):
  'http://h\t:5000', 'http://h\n', ' http://h', 'http://h ', 'http:///host', 'http://host\\v2', 'http://ex%61mple.com',
  'http://h/v2', 'http://h//', 'http://u:p@h', 'http://@h', 'http://h/?q=1', 'http://h/#f', 'ftp://h', 'h:5000',
];

describe('mirror URLs as dockerd 20.10 judges them', () => {
  it.each(CASES)('%j', async (mirror) => {
    const model = dockerdValidateMirror(mirror, 'before-25');
    const real = await dockerdSays(mirror);
    expect(real.accepted, JSON.stringify(real)).toBe(model.accepted);
    if (real.accepted && model.accepted) expect(real.value).toBe(model.value);
    let mine: string | undefined;
    try {
      mine = validateMirror(mirror, { daemonVersion: '20.10.24' }).url;
    } catch (error) {
      expect((error as Error).name).toBe('InvalidMirrorError');
    }
    if (mine !== undefined) {
      // Never accepted where dockerd refuses, and what is written reads the same to dockerd up to case.
      expect(model.accepted).toBe(true);
      const written = await dockerdSays(mine);
      expect(written.accepted).toBe(true);
      if (written.accepted && real.accepted) expect(written.value.toLowerCase()).toBe(real.value.toLowerCase());
    }
  });
});
