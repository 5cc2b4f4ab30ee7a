// How each setup is told about a change (the whole plan: reload or restart, the argv or signal, whether
// containers stop, and the line printed for it), what each refusal says, and what running a plan does: the
// environment and deadline the command gets, the errors and hints of a failed one, and which process a SIGHUP
// reaches. Stand-in dockerds are `sleep` children whose argv[0] is `dockerd` (what the trust check reads); a
// SIGHUP ends them, so whether they are still alive says whether they were signalled.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMethodFor, checkMirrorPathSupport, runApply, type ApplyPlan, type SignalCommand } from '../../src/daemon/service.js';
import type { DaemonSetup } from '../../src/daemon/setup.js';
import { ApplyError, InvalidMirrorError, UsageError } from '../../src/errors.js';
import { setup } from '../support/daemon-setup.js';


/** The UsageError `applyMethodFor` throws, as the user sees it. */
function refusal(s: DaemonSetup, requested: 'auto' | 'reload' | 'restart'): { message: string; hint?: string; details?: unknown } {
  try {
    applyMethodFor(s, requested);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    const e = error as UsageError;
    return { message: e.message, ...(e.hint ? { hint: e.hint } : {}), ...(e.details ? { details: e.details } : {}) };
  }
  throw new Error(`${s.kind} ${requested} was not refused`);
}

describe('applyMethodFor: the whole plan', () => {
  it('service managers reload by default and restart on request, saying why', () => {
    const keep = setup('systemd', { restartStopsContainers: false });
    expect(applyMethodFor(setup('systemd'), 'auto')).toEqual({
      method: 'reload', command: ['systemctl', 'reload', 'docker'], stopsContainers: false, why: 'systemd service: reload sends SIGHUP to dockerd',
    });
    expect(applyMethodFor(setup('systemd'), 'restart')).toEqual({
      method: 'restart', command: ['systemctl', 'restart', 'docker'], stopsContainers: true, why: 'systemd service: restart requested',
    });
    expect(applyMethodFor(keep, 'restart').stopsContainers).toBe(false);
    expect(applyMethodFor(setup('rootless'), 'reload')).toEqual({
      method: 'reload', command: ['systemctl', '--user', 'reload', 'docker'], stopsContainers: false, why: 'rootless user service: reload sends SIGHUP to dockerd',
    });
    expect(applyMethodFor(setup('rootless'), 'restart')).toEqual({
      method: 'restart', command: ['systemctl', '--user', 'restart', 'docker'], stopsContainers: true, why: 'rootless user service: restart requested',
    });
    expect(applyMethodFor(setup('openrc'), 'auto')).toEqual({
      method: 'reload', command: ['rc-service', 'docker', 'reload'], stopsContainers: false, why: 'OpenRC service: reload sends SIGHUP to dockerd',
    });
    expect(applyMethodFor(setup('openrc'), 'restart')).toEqual({
      method: 'restart', command: ['rc-service', 'docker', 'restart'], stopsContainers: true, why: 'OpenRC service: restart requested',
    });
  });

  it.each([
    ['snap', ['snap', 'restart', 'docker']],
    ['sysvinit', ['service', 'docker', 'restart']],
  ] as const)('%s: SIGHUP to the visible dockerd (proven on its endpoint), else its restart verb', (kind, restart) => {
    const visible = setup(kind, { pid: 9, pidFile: '/run/docker.pid', endpoint: 'unix:///run/docker.sock' });
    const signal: SignalCommand = { signal: 'SIGHUP', pid: 9, pidFile: '/run/docker.pid', endpoint: 'unix:///run/docker.sock' };
    expect(applyMethodFor(visible, 'auto')).toEqual({ method: 'reload', command: signal, stopsContainers: false, why: `${kind}: no reload verb, so SIGHUP to dockerd (pid 9)` });
    expect(applyMethodFor(visible, 'reload').command).toEqual(signal);
    expect(applyMethodFor(visible, 'restart')).toEqual({ method: 'restart', command: restart, stopsContainers: true, why: `${kind}: restart requested` });
    expect(applyMethodFor(setup(kind), 'auto')).toEqual({ method: 'restart', command: restart, stopsContainers: true, why: `${kind}: dockerd not visible, so restart` });
    expect(refusal(setup(kind), 'reload')).toEqual({
      message: `Cannot reload this Docker daemon (setup: ${kind}): the dockerd process is not visible from here.`,
      hint: 'Use restart instead.',
      details: { setup: kind, requested: 'reload' },
    });
  });

  it('plain dockerd: SIGHUP to its pid, with only the pid file and endpoint it has; no restart', () => {
    expect(applyMethodFor(setup('plain', { pid: 5 }), 'auto')).toEqual({
      method: 'reload', command: { signal: 'SIGHUP', pid: 5 }, stopsContainers: false, why: 'dockerd without a service manager: SIGHUP to pid 5',
    });
    expect(applyMethodFor(setup('plain', { pid: 5, endpoint: 'unix:///x.sock' }), 'reload').command).toEqual({ signal: 'SIGHUP', pid: 5, endpoint: 'unix:///x.sock' });
    expect(refusal(setup('plain', { pid: 5 }), 'restart')).toEqual({
      message: 'Cannot restart this Docker daemon (setup: plain): no service manager runs this dockerd.',
      hint: 'Restart it yourself, or use reload (SIGHUP).',
      details: { setup: 'plain', requested: 'restart' },
    });
    expect(refusal(setup('plain'), 'auto')).toEqual({
      message: 'Cannot reload this Docker daemon (setup: plain): its pid is unknown.',
      hint: 'Send dockerd SIGHUP yourself (kill -HUP <pid>).',
      details: { setup: 'plain', requested: 'auto' },
    });
  });

  it('Docker Desktop restarts through `docker desktop restart` from 4.37, and says when it cannot', () => {
    const desktop = (desktopVersion?: string) => setup('desktop', { engine: { kind: 'desktop', evidence: 'test', ...(desktopVersion ? { desktopVersion } : {}) } });
    const plan: ApplyPlan = {
      method: 'restart', command: ['docker', 'desktop', 'restart'], stopsContainers: true,
      why: 'Docker Desktop applies daemon.json only by restarting, which stops every container',
    };
    expect(applyMethodFor(desktop('4.37.0'), 'auto')).toEqual(plan);
    expect(applyMethodFor(desktop(), 'restart')).toEqual(plan);
    expect(applyMethodFor(setup('desktop'), 'auto')).toEqual(plan);
    expect(refusal(desktop('4.36.1'), 'auto')).toEqual({
      message: 'Cannot restart this Docker daemon (setup: desktop): Docker Desktop 4.36.1 has no `docker desktop` command (it came with 4.37).',
      hint: 'Run again with --apply none, then restart Docker Desktop from its menu (Restart); or upgrade Docker Desktop to 4.37 or later.',
      details: { setup: 'desktop', requested: 'auto' },
    });
    expect(refusal(desktop('4.37.0'), 'reload')).toMatchObject({
      message: 'Cannot reload this Docker daemon (setup: desktop): Docker Desktop applies daemon.json only on restart.',
      hint: 'Use restart (it stops every container).',
    });
  });

  it('OrbStack and the Windows service restart only; an unknown setup is refused', () => {
    expect(applyMethodFor(setup('orbstack', { restartStopsContainers: false }), 'auto')).toEqual({
      method: 'restart', command: ['orb', 'restart', 'docker'], stopsContainers: false,
      why: 'OrbStack applies docker.json by restarting its Docker engine, which stops every container',
    });
    expect(refusal(setup('orbstack'), 'reload')).toMatchObject({
      message: 'Cannot reload this Docker daemon (setup: orbstack): OrbStack applies docker.json only when its Docker engine restarts.',
      hint: 'Use restart (it stops every container).',
    });
    expect(applyMethodFor(setup('windows-engine'), 'auto')).toEqual({
      method: 'restart', command: ['powershell', '-NoProfile', '-Command', 'Restart-Service docker'], stopsContainers: true,
      why: 'Windows service: restart is the only way',
    });
    expect(refusal(setup('windows-engine'), 'reload')).toMatchObject({
      message: 'Cannot reload this Docker daemon (setup: windows-engine): the Windows service has no reload.',
      hint: 'Use restart.',
    });
    expect(refusal(setup('unknown'), 'restart')).toEqual({
      message: 'Cannot apply changes to this Docker daemon (setup: unknown): how it is run could not be detected.',
      hint: 'Reload the daemon yourself, or set DOCKMIRROR_SETUP to its kind.',
      details: { setup: 'unknown', requested: 'restart' },
    });
  });

  it("an engine no file here can change is refused with that engine's own reason, whatever its kind", () => {
    const engineRefusal = new UsageError('Colima generates daemon.json at every start.', { hint: 'Edit colima.yaml.' });
    expect(() => applyMethodFor(setup('systemd', { engineRefusal }), 'auto')).toThrow(engineRefusal);
  });
});

let dir: string;
const children: ChildProcess[] = [];

/** A `sleep` whose argv[0] is `dockerd`: trusted by the pid check (root's, named dockerd), ended by a SIGHUP. */
async function standIn(): Promise<{ pid: number; signalled: () => Promise<NodeJS.Signals | null> }> {
  const child = spawn('sleep', ['300'], { argv0: 'dockerd', stdio: 'ignore' });
  children.push(child);
  await new Promise((r) => child.once('spawn', r));
  const ended = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
  // Still running when asked: not signalled; otherwise the signal that ended it.
  const signalled = () => Promise.race([ended, new Promise<null>((r) => setTimeout(() => r(null), 300))]);
  return { pid: child.pid ?? -1, signalled };
}

const hup = (command: Omit<SignalCommand, 'signal'>): ApplyPlan => ({ method: 'reload', command: { signal: 'SIGHUP', ...command }, stopsContainers: false, why: '' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dm-apply-plans-'));
  // A fake docker (as before Desktop 4.37) and powershell that fail with what the real ones print.
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'docker'), "#!/bin/sh\necho \"docker: '$1' is not a docker command.\" >&2\nexit 1\n");
  await writeFile(join(bin, 'docker2'), '#!/bin/sh\necho "unknown command: docker $1" >&2\nexit 1\n');
  await writeFile(join(bin, 'powershell'), '#!/bin/sh\necho "Restart-Service : $DM_PS_ERR" >&2\nexit 1\n');
  await writeFile(join(bin, 'other'), '#!/bin/sh\necho "${DM_ERR:-something else}" >&2\nexit 4\n');
  for (const name of ['docker', 'docker2', 'powershell', 'other']) await chmod(join(bin, name), 0o755);
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const failure = async (plan: ApplyPlan, options: Parameters<typeof runApply>[1] = {}) => {
  const error = await runApply(plan, options).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ApplyError);
  const e = error as ApplyError;
  return { message: e.message, hint: e.hint, details: e.details };
};

describe('runApply: a command', () => {
  const reload = (command: string[]): ApplyPlan => ({ method: 'reload', command, stopsContainers: false, why: '' });

  it('runs without a shell in the environment given (else this process’s), and reports what it printed', async () => {
    const echo = reload(['sh', '-c', 'echo "[$DM_X]"; echo err >&2', 'arg0']);
    expect(await runApply(echo, { env: { ...process.env, DM_X: 'given' } })).toEqual({ ran: echo.command, stdout: '[given]\n', stderr: 'err\n' });
    process.env.DM_X = 'own';
    try {
      expect((await runApply(echo)).stdout).toBe('[own]\n');
    } finally {
      delete process.env.DM_X;
    }
  });

  it('a reload command is cut off at the timeout; a restart one is waited for past it', async () => {
    expect(await failure(reload(['sleep', '5']), { timeoutMs: 300 })).toMatchObject({ message: '`sleep 5` failed (still running after 0.3 s)' });
    const restart: ApplyPlan = { method: 'restart', command: ['sleep', '1'], stopsContainers: true, why: '' };
    expect((await runApply(restart, { timeoutMs: 100 })).ran).toEqual(['sleep', '1']);
  });

  it('Ctrl-C ends the command it waits for', async () => {
    const controller = new AbortController();
    const running = runApply(reload(['sleep', '30']), { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(running).rejects.toBeInstanceOf(ApplyError);
  });

  it('says how it failed, with its stderr, and what to do for the failures that have a known fix', async () => {
    const env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}` };
    expect(await failure(reload(['other', 'x']), { env })).toEqual({
      message: '`other x` failed (exit 4): something else',
      hint: undefined,
      details: { command: ['other', 'x'], stderr: 'something else\n' },
    });
    expect(await failure(reload(['dm-no-such-command', 'restart']))).toEqual({
      message: '`dm-no-such-command restart` failed (command not found)',
      hint: 'Install dm-no-such-command or choose another apply method.',
      details: { command: ['dm-no-such-command', 'restart'], stderr: '' },
    });
    expect((await failure(reload(['docker', 'desktop', 'restart']), { env })).hint).toBe(
      'This Docker Desktop is older than 4.37 and has no `docker desktop` command: restart Docker Desktop from its menu (Restart), or upgrade it.',
    );
    expect((await failure(reload(['docker2', 'desktop', 'restart']), { env })).hint).toContain('older than 4.37');
    // The same words from another subcommand are no Desktop matter.
    expect((await failure(reload(['docker', 'other', 'restart']), { env })).hint).toBeUndefined();
    const powershell = reload(['powershell', '-Command', 'Restart-Service docker']);
    const elevated = 'Restarting a Windows service needs an elevated prompt: run the command again as administrator.';
    for (const said of ['Service cannot be stopped: Access is denied.', 'CategoryInfo : PermissionDenied', "Cannot open docker service on computer '.'."]) {
      expect((await failure(powershell, { env: { ...env, DM_PS_ERR: said } })).hint).toBe(elevated);
    }
    expect((await failure(powershell, { env: { ...env, DM_PS_ERR: 'Cannot find any service with service name docker.' } })).hint).toBeUndefined();
    expect((await failure(reload(['other', 'desktop']), { env })).hint).toBeUndefined();
    // The elevation hint is for the Windows service only, whoever else says "access is denied".
    expect((await failure(reload(['other', 'restart']), { env: { ...env, DM_ERR: 'Access is denied.' } })).hint).toBeUndefined();
  });

  it('an empty command is a bug, said so', async () => {
    expect(await failure(reload([]))).toMatchObject({ message: 'Empty apply command.', hint: 'This is a bug in dockmirror; please report it.' });
  });
});

describe('runApply: a SIGHUP', () => {
  it('goes to the pid in a trusted pid file first, and reports it', async () => {
    const [fromFile, fromScan] = [await standIn(), await standIn()];
    const pidFile = join(dir, 'good.pid');
    // As dockerd writes it: the pid, then a newline (blank lines around it are tolerated).
    await writeFile(pidFile, `${fromFile.pid}\n\n`);
    expect(await runApply(hup({ pid: fromScan.pid, pidFile }))).toEqual({ ran: ['kill', '-HUP', String(fromFile.pid)], stdout: '', stderr: '' });
    expect(await fromFile.signalled()).toBe('SIGHUP');
    expect(await fromScan.signalled()).toBeNull();
  });

  it('falls back to the known pid when the pid file is missing or not believable, saying why', async () => {
    const cases: [string, () => Promise<void>, string | undefined][] = [
      ['missing.pid', async () => undefined, undefined],
      ['folder.pid', async () => mkdir(join(dir, 'folder.pid')), 'is not a regular file'],
      ['link.pid', async () => symlink(join(dir, 'good.pid'), join(dir, 'link.pid')), 'is not a regular file'],
      ['nobody.pid', async () => {
        await writeFile(join(dir, 'nobody.pid'), `${2 ** 22 + 12345}\n`);
        await chown(join(dir, 'nobody.pid'), 65534, 65534);
      }, 'belongs to uid 65534'],
      ['junk.pid', async () => writeFile(join(dir, 'junk.pid'), 'pid=12\n'), 'holds no pid'],
      ['two.pid', async () => writeFile(join(dir, 'two.pid'), '12 34\n'), 'holds no pid'],
    ];
    for (const [name, make, why] of cases) {
      await make();
      const pidFile = join(dir, name);
      const refused = why ? [`${pidFile} ${why}`] : [];
      const target = await standIn();
      // A refused pid file is only said when nothing can be signalled: with no usable pid either, it is.
      const error = await runApply(hup({ pid: 0, pidFile })).then(() => undefined, (e: unknown) => e as ApplyError);
      expect(error?.message).toBe(`No trusted dockerd found to reload (pid file ${pidFile}, pid 0): ${refused.join('; ')}.`);
      expect(error?.details).toEqual({ pid: 0, pidFile, refused });
      expect((await runApply(hup({ pid: target.pid, pidFile }))).ran).toEqual(['kill', '-HUP', String(target.pid)]);
      expect(await target.signalled()).toBe('SIGHUP');
    }
  });

  it('does not read a pid file in a folder other users can write, or one that cannot be examined', async () => {
    const open = join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    const named = await standIn();
    await writeFile(join(open, 'd.pid'), `${named.pid}\n`);
    const error = await runApply(hup({ pid: 0, pidFile: join(open, 'd.pid') })).then(() => undefined, (e: unknown) => e as ApplyError);
    expect(error?.message).toContain(`the pid file ${join(open, 'd.pid')} is in ${open}, which other users can write`);
    expect(await named.signalled()).toBeNull();
    // A path through a regular file: lstat fails with ENOTDIR, which is said (only a missing file is not).
    const through = join(dir, 'good.pid', 'x.pid');
    expect((await runApply(hup({ pid: 0, pidFile: through })).catch((e: Error) => e.message)) as string).toContain(`${through} cannot be read (`);
  });

  it('never signals a pid that is not a trusted dockerd, nor one that does not serve the endpoint', async () => {
    const plain = spawn('sleep', ['300'], { stdio: 'ignore' });
    children.push(plain);
    await new Promise((r) => plain.once('spawn', r));
    const exited = new Promise((r) => plain.once('exit', r));
    const error = await runApply(hup({ pid: plain.pid ?? -1 })).then(() => undefined, (e: unknown) => e as ApplyError);
    expect(error?.message).toBe(`No trusted dockerd found to reload (pid file none, pid ${plain.pid}): pid ${plain.pid}: it is not a running dockerd.`);
    expect(error?.hint).toBe('Is dockerd still running, as root, on this endpoint? Check its pid file, or pass --apply restart.');
    // The plan of a setup detected for an endpoint carries it, and the stand-in does not serve it.
    const target = await standIn();
    const plan = applyMethodFor(setup('plain', { pid: target.pid, endpoint: `unix://${dir}/none.sock` }), 'auto');
    await expect(runApply(plan)).rejects.toThrow(`pid ${target.pid}: it does not serve unix://${dir}/none.sock`);
    expect(await target.signalled()).toBeNull();
    expect(await Promise.race([exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 200))])).toBe('running');
  });

  it('a SIGHUP the kernel refuses (EPERM) is an ApplyError whose hint says to run as root', async () => {
    // The caller is uid 65534 and runs its own (trusted) stand-in dockerd; the signal goes out with another
    // effective uid, which may not signal it. The effective uid and getuid are changed for the call only.
    const child = spawn('sleep', ['300'], { argv0: 'dockerd', stdio: 'ignore', uid: 65534, gid: 65534 });
    children.push(child);
    await new Promise((r) => child.once('spawn', r));
    const ended = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
    const getuid = process.getuid;
    process.getuid = () => 65534;
    process.seteuid?.(4242);
    let error: unknown;
    try {
      error = await runApply(hup({ pid: child.pid ?? -1 })).catch((e: unknown) => e);
    } finally {
      process.seteuid?.(0);
      process.getuid = getuid;
    }
    expect(error).toBeInstanceOf(ApplyError);
    expect(error).toMatchObject({
      message: `Could not send SIGHUP to dockerd (pid ${child.pid}): EPERM.`,
      hint: 'Run dockmirror as root (sudo).',
      details: { pid: child.pid, pidFile: undefined },
    });
    expect(await Promise.race([ended, new Promise((r) => setTimeout(() => r('running'), 300))])).toBe('running');
  });

  it('skips pids that cannot be a process: zero, negative, fractional', async () => {
    for (const pid of [0, -1, 1.5]) {
      await expect(runApply(hup({ pid }))).rejects.toThrow(`No trusted dockerd found to reload (pid file none, pid ${pid}): .`);
    }
  });
});

describe('checkMirrorPathSupport', () => {
  it('says what to do instead, and what it judged', () => {
    let error: unknown;
    try {
      checkMirrorPathSupport('24.0.9', 'https://m.example/prefix');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidMirrorError);
    expect(error).toMatchObject({
      message: 'Docker 24.0.9 does not accept a mirror URL with a path: https://m.example/prefix',
      hint: 'Use the mirror host without a path, or upgrade Docker Engine to 25.0 or later.',
      details: { serverVersion: '24.0.9', mirrorUrl: 'https://m.example/prefix', path: '/prefix' },
    });
  });
});
