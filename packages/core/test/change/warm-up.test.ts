// The daemon is greeted while the change's files are read and planned (EngineTarget.warmUp), against a scripted
// Engine (test/support/scripted-engine.ts) behind a fake systemd: a change greets it once, not once to warm up and
// again to prepare; a run that ends without needing it closes what it left open, even a call the daemon never
// answers, so neither a library caller nor the CLI waits out that call's deadline. All traffic stays on unix
// sockets.
import type { Socket } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { addMirror } from '../../src/operations/mirrors.js';
import { useScriptedEngine, type ScriptedEngine } from '../support/scripted-engine.js';

const MIRROR = 'http://127.0.0.1:5201';
const OTHER = 'http://127.0.0.1:5202';

let engine: ScriptedEngine;
let file: string;
const fx = useScriptedEngine('dm-warm-up-', MIRROR);
beforeEach(() => ({ engine, file } = fx));

// A deadline far longer than the test's own: a run that waited out a hung call would fail the test by time-out.
const options = (extra: Record<string, unknown> = {}) => fx.options({ timeoutMs: 120_000, ...extra });

/** The calls of the greeting (ping, version, info) the engine was sent. */
const greetings = (requests: string[]): string[] => requests.filter((r) => /^\/(_ping|version)$/.test(r));

describe('warming up the daemon during a change', () => {
  it('a change greets the daemon once, and confirms the reload after', async () => {
    engine.live.mirrors = [`${MIRROR}/`];
    const result = await addMirror(options({ mirror: OTHER }));
    expect(result.apply).toMatchObject({ method: 'reload', live: { mirrors: [`${OTHER}/`, `${MIRROR}/`] } });
    expect(greetings(engine.requests).sort()).toEqual(['/_ping', '/version']);
    // One /info to greet, the rest to confirm: never a second greeting.
    expect(engine.requests.indexOf('/info')).toBeLessThan(engine.requests.findIndex((r) => r.startsWith('/events')));
  });

  it('an explicit --apply reload with nothing to change greets it once too', async () => {
    const result = await addMirror(options({ mirror: MIRROR, insecure: false, apply: 'reload' }));
    expect(result.changed).toBe(false);
    expect(result.apply).toMatchObject({ method: 'reload', live: { mirrors: [`${MIRROR}/`] } });
    expect(greetings(engine.requests).sort()).toEqual(['/_ping', '/version']);
  });

  it('a run that does not need the daemon closes the call it never answered, and returns at once', async () => {
    const hung: Socket[] = [];
    engine.script.infoQueue.push((socket) => void hung.push(socket));
    const before = await readFile(file, 'utf8');
    // The mirror is there already: nothing to write, nothing to tell, so nothing waits for that /info.
    const result = await addMirror(options({ mirror: MIRROR, insecure: false }));
    expect(result).toMatchObject({ changed: false, apply: { method: 'none', reason: 'nothing changed' } });
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(engine.requests).toContain('/info');
    expect(hung).toHaveLength(1);
    // Closed by the client when the run ended (the engine never answered, so only dockmirror can have ended it).
    await new Promise<void>((closed) => (hung[0]?.destroyed ? closed() : hung[0]?.once('close', () => closed())));
    expect(hung[0]?.destroyed).toBe(true);
  });

  it('--apply none does not greet the daemon at all', async () => {
    await writeFile(file, '{}\n');
    const result = await addMirror(options({ mirror: MIRROR, apply: 'none' }));
    expect(result.changed).toBe(true);
    expect(engine.requests).toEqual([]);
  });
});
