// In-process, against the sources (so a change to the restore path fails here without a rebuild): what a change
// does when the daemon will not take it, on a real dockerd driven by a fake systemctl. The file is put back and
// the error says so; when even that fails, the error says where the old bytes are and rollback gets them back;
// a restart that would stop a running container is refused unless agreed to.
import { execFileSync } from 'node:child_process';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/daemon/engine.js';
import { ApplyError, InterruptedError, UsageError } from '../../src/errors.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { listBackups, rollback } from '../../src/operations/rollback.js';
import { Journal } from '../../src/state/journal.js';
import { isolated } from '../support/hermetic.js';
import { fakeCalls, fakeCommandsDir, importSleepImage, startTestbed, type Testbed } from '../support/testbed.js';

const ORIGINAL = '{\n  "debug": false\n}\n';
let tb: Testbed;
let bin: string;
let savedPath: string | undefined;
beforeAll(async () => {
  tb = await startTestbed({ daemonJson: ORIGINAL });
  bin = await fakeCommandsDir(tb);
  // The apply step runs systemctl from this process's PATH (options.env does not reach it), so the fakes go first here.
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath ?? ''}`;
});
afterAll(async () => {
  process.env.PATH = savedPath;
  execFileSync('chattr', ['-i', tb.configFile]);
  await tb?.stop();
});

let n = 0;
let stateDir: string;
afterEach(async () => {
  execFileSync('chattr', ['-i', tb.configFile]);
  await rm(path.join(tb.dir, 'fake-fail'), { force: true });
  await rm(path.join(tb.dir, 'fake-calls.log'), { force: true });
  await writeFile(tb.configFile, ORIGINAL);
});
const opts = (extra: object = {}) => {
  stateDir = path.join(tb.dir, `state-${n++}`);
  return {
    ...isolated(tb.dir),
    configFile: tb.configFile,
    stateDir,
    dockerHost: tb.dockerHost,
    env: { DOCKMIRROR_SETUP: 'systemd' },
    timeoutMs: 20_000,
    ...extra,
  };
};

describe('a change the daemon does not take', () => {
  it('puts the old bytes back, tells the daemon again, says both in the error, and keeps no backup of it', async () => {
    await writeFile(path.join(tb.dir, 'fake-fail'), 'Job for docker.service failed.\n');
    const options = opts({ apply: 'reload' });
    const error = await addMirror({ ...options, mirror: 'http://127.0.0.1:8' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyError);
    expect(error).toMatchObject({ code: 'APPLY_FAILED', details: { restored: true, reapplyFailed: expect.stringContaining('Job for docker.service failed.') } });
    expect((error as ApplyError).message).toContain(`${tb.configFile} was restored to its previous bytes, but the daemon did not take them either (`);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
    // Told twice: the change, then the old bytes.
    expect((await fakeCalls(tb)).filter((l) => l === 'systemctl reload docker').length).toBeGreaterThanOrEqual(2);
    // The entry is aborted: nothing to roll back to.
    expect((await listBackups(options)).backups).toEqual([]);
    expect((await new Journal(stateDir).entries()).map((e) => e.status)).toEqual(['aborted']);
  });

  it('when the old bytes cannot be put back either, names the backup, keeps it, and rollback restores from it', async () => {
    // A systemctl that fails and leaves daemon.json immutable: the restore's rename over it fails (EPERM).
    // Every other verb (`cat` for the flag check) goes to the usual fake.
    const systemctl = path.join(bin, 'systemctl');
    const fake = await readFile(systemctl, 'utf8');
    await writeFile(`${systemctl}.usual`, fake, { mode: 0o755 });
    await writeFile(
      systemctl,
      `#!/bin/bash\nif [ "$1" = reload ]; then chattr +i ${JSON.stringify(tb.configFile)}; echo 'Job for docker.service failed.' >&2; exit 1; fi\nexec ${JSON.stringify(`${systemctl}.usual`)} "$@"\n`,
    );
    await chmod(systemctl, 0o755);
    let error: unknown;
    const options = opts({ apply: 'reload' });
    try {
      error = await addMirror({ ...options, mirror: 'http://127.0.0.1:8' }).catch((e: unknown) => e);
    } finally {
      await writeFile(systemctl, fake);
      execFileSync('chattr', ['-i', tb.configFile]);
    }
    expect(error).toBeInstanceOf(ApplyError);
    const entries = await new Journal(stateDir).entries();
    expect(entries.map((e) => e.status)).toEqual(['pending']);
    const backup = new Journal(stateDir).backupPath(entries[0]!.id);
    expect(error).toMatchObject({ details: { restoreFailed: expect.any(String) } });
    expect((error as ApplyError).message).toContain(`Restoring ${tb.configFile} failed too (`);
    expect((error as ApplyError).message).toContain(`its previous bytes are kept in ${backup}: run \`dockmirror rollback\` once that is fixed.`);
    // The file still has the new bytes; the backup has the old ones, and rollback brings them back.
    expect(JSON.parse(await readFile(tb.configFile, 'utf8'))).toMatchObject({ 'registry-mirrors': ['http://127.0.0.1:8'] });
    expect(await readFile(backup, 'utf8')).toBe(ORIGINAL);
    await rollback({ ...options, apply: 'none' });
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });
});

describe('a reload the daemon never acts on', () => {
  it('is not taken for success: the unconfirmed change is an apply failure, and the old bytes are confirmed back', async () => {
    // A systemctl that says yes to reload and does nothing: the daemon keeps its old settings.
    const systemctl = path.join(bin, 'systemctl');
    const fake = await readFile(systemctl, 'utf8');
    await writeFile(`${systemctl}.usual`, fake, { mode: 0o755 });
    await writeFile(systemctl, `#!/bin/bash\nif [ "$1" = reload ]; then exit 0; fi\nexec ${JSON.stringify(`${systemctl}.usual`)} "$@"\n`);
    let error: unknown;
    try {
      error = await addMirror({ ...opts({ apply: 'reload', timeoutMs: 1_500 }), mirror: 'http://127.0.0.1:8' }).catch((e: unknown) => e);
    } finally {
      await writeFile(systemctl, fake);
    }
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as ApplyError).message).toMatch(/^The Docker daemon did not take the change: mirrors: daemon has \[\], file asks for \[http:\/\/127\.0\.0\.1:8\]/);
    expect((error as ApplyError).message).toContain(`${tb.configFile} was restored to its previous bytes, and the daemon is confirmed back on them.`);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  }, 30_000);
});

/** Runs `work` with the fake systemctl's `verb` replaced by `body` (bash); every other verb goes to the usual fake. */
async function withSystemctl<T>(verb: string, body: string, work: () => Promise<T>): Promise<T> {
  const systemctl = path.join(bin, 'systemctl');
  const fake = await readFile(systemctl, 'utf8');
  await writeFile(`${systemctl}.usual`, fake, { mode: 0o755 });
  await writeFile(systemctl, `#!/bin/bash\nif [ "$1" = ${verb} ]; then ${body}; fi\nexec ${JSON.stringify(`${systemctl}.usual`)} "$@"\n`);
  try {
    return await work();
  } finally {
    await writeFile(systemctl, fake);
  }
}

describe('an apply command that is not installed', () => {
  it('fails the apply with a hint that says to install it, and where the daemon log is; the file is put back', async () => {
    // OrbStack's `orb` is not on this machine: the restart cannot even start.
    const error = await addMirror({ ...opts({ apply: 'restart', yes: true, env: { DOCKMIRROR_SETUP: 'orbstack' } }), mirror: 'http://127.0.0.1:8' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as ApplyError).message).toMatch(/^`orb restart docker` failed \(command not found\)/);
    expect((error as ApplyError).hint).toBe("Install orb or choose another apply method. Look at the daemon's log: OrbStack: orb logs docker");
    expect((error as ApplyError).details).toMatchObject({ endpoint: tb.dockerHost, logHint: 'OrbStack: orb logs docker' });
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });
});

describe('a restart the daemon never acts on', () => {
  it('is not taken for success: the wait for the change ends at the timeout, and says what the daemon showed', async () => {
    const progress: string[] = [];
    const options = opts({ apply: 'restart', yes: true, timeoutMs: 1_500, onProgress: (m: string) => progress.push(m) });
    const error = await withSystemctl('restart', 'exit 0', () => addMirror({ ...options, mirror: 'http://127.0.0.1:8' }).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as ApplyError).message).toMatch(/^The Docker daemon did not take the change: mirrors: daemon has \[\], file asks for \[http:\/\/127\.0\.0\.1:8\]\./);
    expect((error as ApplyError).details).toMatchObject({
      live: { mirrors: [], insecureRegistries: [] },
      expected: { mirrors: ['http://127.0.0.1:8'], insecureRegistries: ['127.0.0.1:8'] },
      mismatch: 'mirrors: daemon has [], file asks for [http://127.0.0.1:8]',
    });
    // A restart sends no reload event, and none was waited for.
    expect((error as ApplyError).message).not.toContain('reload event');
    // While it waited, it said so, counting seconds.
    expect(progress.filter((m) => m.startsWith('Waiting')).length).toBeGreaterThan(0);
    for (const m of progress.filter((line) => line.startsWith('Waiting'))) expect(m).toMatch(/^Waiting for the daemon to show the change \([0-2] s\)$/);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });
});

describe('a reload verb that restarts the daemon', () => {
  it('is waited for while the daemon is down after it, and counts once the daemon is back with the change', async () => {
    // Some init scripts restart on reload: the daemon is gone when the command returns and comes back a second later.
    const body = '"$(dirname "$0")/../ctl.sh" stop; ( sleep 1; "$(dirname "$0")/../ctl.sh" start ) >/dev/null 2>&1 & exit 0';
    const pid = tb.pid;
    const result = await withSystemctl('reload', body, () => addMirror({ ...opts({ apply: 'reload' }), mirror: 'http://127.0.0.1:14' }));
    expect(result.apply).toMatchObject({ method: 'reload', live: { mirrors: ['http://127.0.0.1:14/'] } });
    expect(tb.pid).not.toBe(pid);
  });
});

describe('an interrupt after the daemon was told', () => {
  it('says the daemon was sent the reload but not yet seen to take it, and leaves the change to settle', async () => {
    // A reload the daemon never acts on keeps the apply waiting for its event; Ctrl-C comes during that wait.
    const systemctl = path.join(bin, 'systemctl');
    const fake = await readFile(systemctl, 'utf8');
    await writeFile(`${systemctl}.usual`, fake, { mode: 0o755 });
    await writeFile(systemctl, `#!/bin/bash\nif [ "$1" = reload ]; then exit 0; fi\nexec ${JSON.stringify(`${systemctl}.usual`)} "$@"\n`);
    const controller = new AbortController();
    const base = opts({ apply: 'reload' });
    let error: unknown;
    try {
      const options = {
        ...base,
        signal: controller.signal,
        onProgress: (message: string) => {
          if (message.startsWith('Reloading')) setTimeout(() => controller.abort(), 300);
        },
      };
      error = await addMirror({ ...options, mirror: 'http://127.0.0.1:8' }).catch((e: unknown) => e);
    } finally {
      await writeFile(systemctl, fake);
    }
    expect(error).toBeInstanceOf(InterruptedError);
    const [entry] = await new Journal(base.stateDir).entries();
    expect((error as Error).message).toBe(
      `Interrupted: ${tb.configFile} holds the change (backup ${entry?.id}) and the daemon was sent a reload but not yet seen to take it. Run \`dockmirror apply\` to make the daemon load the file, or \`dockmirror rollback\` to undo it.`,
    );
    expect(entry?.status).toBe('pending');
    expect(JSON.parse(await readFile(tb.configFile, 'utf8'))).toMatchObject({ 'registry-mirrors': ['http://127.0.0.1:8'] });
    await rollback({ ...base, apply: 'none' });
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });
});

describe('a daemon that reads another daemon.json', () => {
  it('is not told about a change to this one with --apply auto, and --apply reload refuses before writing', async () => {
    const other = path.join(tb.dir, 'other.json');
    await writeFile(other, '{}\n');
    const auto = await addMirror({ ...opts({ configFile: other }), mirror: 'http://127.0.0.1:8' });
    expect(auto.apply).toEqual({ method: 'none', reason: `the daemon at ${tb.dockerHost} reads ${tb.configFile}, not this file; it was not told` });
    expect(JSON.parse(await readFile(other, 'utf8'))).toMatchObject({ 'registry-mirrors': ['http://127.0.0.1:8'] });
    const error = await addMirror({ ...opts({ configFile: other, apply: 'reload' }), mirror: 'http://127.0.0.1:9' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe(`The daemon at ${tb.dockerHost} reads ${tb.configFile}, not ${other}. Nothing was written.`);
    expect((error as UsageError).hint).toBe(`Edit the daemon's file with --config-file ${tb.configFile}, or pass --apply none.`);
    expect(JSON.parse(await readFile(other, 'utf8'))['registry-mirrors']).toEqual(['http://127.0.0.1:8']);
    expect((await fakeCalls(tb)).filter((l) => l.startsWith('systemctl reload'))).toEqual([]);
  });
});

describe('a restart that would stop a running container', () => {
  let container: string;
  beforeAll(async () => {
    await importSleepImage(tb, 'dm-sleep:1');
    container = (await tb.docker(['run', '-d', '--name', 'dm-keeps-running', '--network', 'none', 'dm-sleep:1'])).trim();
  });
  afterAll(async () => {
    await tb.docker(['rm', '-f', container]).catch(() => undefined);
  });

  it('is refused without --yes, and when the user says no; the question names the container; nothing is written or restarted', async () => {
    const pid = tb.pid;
    const questions: string[] = [];
    for (const extra of [{}, { confirm: async (q: string) => (questions.push(q), false) }]) {
      const error = await addMirror({ ...opts({ apply: 'restart', ...extra }), mirror: 'http://127.0.0.1:9' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).message).toBe('Not applied: a restart would stop 1 running container(s): dm-keeps-running. Nothing was written.');
      expect((error as UsageError).hint).toMatch(/--yes/);
    }
    expect(questions).toEqual([expect.stringMatching(/^Applying needs a restart \(systemd service: restart requested\) that stops 1 running container\(s\): dm-keeps-running\. Continue\?$/)]);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
    expect((await fakeCalls(tb)).filter((l) => l.includes('restart'))).toEqual([]);
    expect(tb.pid).toBe(pid);
    expect((await tb.docker(['inspect', '--format', '{{.State.Running}}', container])).trim()).toBe('true');
  });

  it('a reload is not asked about: it keeps the container running', async () => {
    const questions: string[] = [];
    const result = await addMirror({ ...opts({ apply: 'reload', confirm: async (q: string) => (questions.push(q), false) }), mirror: 'http://127.0.0.1:10' });
    expect(result.apply.method).toBe('reload');
    expect(questions).toEqual([]);
    expect((await tb.docker(['inspect', '--format', '{{.State.Running}}', container])).trim()).toBe('true');
  });

  it('goes ahead with --yes without asking, asks nothing when nothing runs, and goes ahead when the user says yes', async () => {
    const questions: string[] = [];
    const confirm = async (q: string) => (questions.push(q), true);
    const restarted = async (mirror: string, extra: object) => {
      const pid = tb.pid;
      const progress: string[] = [];
      const result = await addMirror({ ...opts({ apply: 'restart', confirm, onProgress: (m: string) => progress.push(m), ...extra }), mirror });
      expect(result.apply).toMatchObject({ method: 'restart', reason: 'systemd service: restart requested' });
      expect(progress).toContain('Restarting the Docker daemon (systemd service: restart requested)');
      expect(tb.pid).not.toBe(pid);
      expect((await createEngine(tb.dockerHost).liveRegistry(5_000)).mirrors).toContain(`${mirror}/`);
    };
    await restarted('http://127.0.0.1:11', { yes: true });
    expect(questions).toEqual([]);
    // That restart stopped the container: with nothing running, there is nothing to ask about.
    expect((await tb.docker(['inspect', '--format', '{{.State.Running}}', container])).trim()).toBe('false');
    await restarted('http://127.0.0.1:12', {});
    expect(questions).toEqual([]);
    await tb.docker(['start', container]);
    await restarted('http://127.0.0.1:13', {});
    expect(questions).toEqual(['Applying needs a restart (systemd service: restart requested) that stops 1 running container(s): dm-keeps-running. Continue?']);
    expect((await fakeCalls(tb)).filter((l) => l === 'systemctl restart docker')).toHaveLength(3);
  });
});
