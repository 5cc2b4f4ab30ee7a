// `dockmirror apply` (applyConfig) against a scripted Engine (test/support/scripted-engine.ts) behind a fake
// systemd: the result it returns, which --apply it passes on, the journal it settles first, and how it waits for
// the lock. Nothing on this machine is reloaded, and all traffic stays on unix sockets.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { DaemonUnreachableError, InterruptedError, LockTimeoutError } from '../../src/errors.js';
import { applyConfig } from '../../src/operations/apply-config.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { withLock } from '../../src/state/lock.js';
import { useScriptedEngine, type ScriptedEngine } from '../support/scripted-engine.js';

const MIRROR = 'http://127.0.0.1:5201';

let dir: string;
let engine: ScriptedEngine;
let endpoint: string;
let file: string;
const fx = useScriptedEngine('dm-apply-config-', MIRROR);
beforeEach(() => ({ dir, engine, endpoint, file } = fx));

describe('applyConfig', () => {
  const options = (extra: Record<string, unknown> = {}) => fx.options(extra);

  it('--apply none is taken as auto; the result describes the file, with what reading the journal met', async () => {
    const stateDir = `${file}.state`;
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await writeFile(path.join(stateDir, 'journal.jsonl'), 'not a journal line\n');
    const result = await applyConfig(options({ apply: 'none' }));
    const apply = {
      method: 'reload',
      reason: 'systemd service: reload sends SIGHUP to dockerd',
      endpoint,
      setup: 'systemd',
      live: { mirrors: [`${MIRROR}/`], insecureRegistries: [] },
      liveFrom: 'GET /info',
      elapsedMs: expect.any(Number),
    };
    expect(result).toEqual({
      changed: false,
      dryRun: false,
      engine: 'docker',
      registry: 'docker.io',
      configFile: file,
      configSetup: 'custom',
      stateDir,
      mirrors: [MIRROR],
      insecureRegistries: [],
      backup: null,
      diff: '',
      warnings: [
        `${path.join(stateDir, 'journal.jsonl')} line 1 was skipped: it is not JSON.`,
        `Moved 1 unreadable journal line to ${path.join(stateDir, 'journal.rejected')}.`,
      ],
      apply,
      engines: [{ engine: 'docker', configFile: file, configSetup: 'custom', files: [], apply }],
    });
    expect(engine.live.mirrors).toEqual([`${MIRROR}/`]);
  });

  it('a file without the keys: the result lists none, and the live settings are cleared', async () => {
    await writeFile(file, '{"labels": ["dm=apply"]}\n');
    engine.live = { mirrors: ['http://127.0.0.1:5298/'], insecure: ['reg.test:5298'] };
    const result = await applyConfig(options());
    expect(result).toMatchObject({ mirrors: [], insecureRegistries: [], apply: { method: 'reload', live: { mirrors: [], insecureRegistries: [] } } });
    expect(await readFile(file, 'utf8')).toBe('{"labels": ["dm=apply"]}\n');
  });

  it('with no daemon to tell, --apply none and no --apply both say the file was not loaded by any', async () => {
    const none = `unix://${dir}/none.sock`;
    for (const apply of ['none', undefined]) {
      const error = await applyConfig(options({ dockerHost: none, ...(apply ? { apply } : {}) })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DaemonUnreachableError);
      const reason = `no Docker daemon answered at ${none} and no running dockerd reads ${file}; the change takes effect when Docker starts`;
      expect((error as Error).message).toBe(`No daemon was told to load ${file}: ${reason}.`);
    }
  });

  it('--apply restart is kept: the daemon is restarted, not reloaded', async () => {
    const result = await applyConfig(options({ apply: 'restart', yes: true }));
    expect(result.apply).toMatchObject({ method: 'restart', reason: 'systemd service: restart requested', live: { mirrors: [`${MIRROR}/`] } });
    expect(await readFile(path.join(dir, 'calls.log'), 'utf8')).toContain('systemctl restart docker\n');
  });

  it('first settles a change killed while the file had its brief reload spelling: the exact bytes are back, and applied', async () => {
    // A change stopped as the daemon was about to be told leaves its journal entry pending.
    const bytes = '{\n  "labels": ["dm=apply"]\n}\n';
    await writeFile(file, bytes);
    const controller = new AbortController();
    const stopped = await addMirror({
      ...options({ signal: controller.signal, onProgress: (m: string) => m.startsWith('Reloading') && controller.abort() }),
      mirror: MIRROR,
      insecure: false,
    }).catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(InterruptedError);
    const changed = await readFile(file, 'utf8');
    expect(changed).toContain(MIRROR);
    // As a kill at that moment would leave it: the absent key spelled out as [] for the reload.
    const spelled = JSON.stringify({ ...JSON.parse(changed), 'insecure-registries': [] });
    await writeFile(file, spelled);
    const result = await applyConfig(options());
    expect(await readFile(file, 'utf8')).toBe(changed);
    expect(result).toMatchObject({ mirrors: [MIRROR], insecureRegistries: [], apply: { method: 'reload', live: { mirrors: [`${MIRROR}/`] } } });
  });

  it('waits for the lock only as long as it was told, and stops waiting at Ctrl-C', async () => {
    const stateDir = `${file}.state`;
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    let holding = (): void => undefined;
    const locked = new Promise<void>((r) => (holding = r));
    const holder = withLock(stateDir, async () => {
      holding();
      await held;
    });
    await locked;
    try {
      await expect(applyConfig(options({ lockTimeoutMs: 300 }))).rejects.toBeInstanceOf(LockTimeoutError);
      const controller = new AbortController();
      const waiting = applyConfig(options({ lockTimeoutMs: 20_000, signal: controller.signal })).then(() => undefined, (e: unknown) => e);
      setTimeout(() => controller.abort(), 200);
      expect(await waiting).toBeInstanceOf(InterruptedError);
    } finally {
      release();
      await holder;
    }
    expect(engine.requests.filter((r) => r.endsWith('/dm/reload'))).toEqual([]);
  });
});
