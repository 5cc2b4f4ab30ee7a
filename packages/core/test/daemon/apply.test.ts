import { describe, expect, it } from 'vitest';
import { applyMethodFor, checkMirrorPathSupport, runApply } from '../../src/daemon/service.js';
import { ApplyError, InvalidMirrorError, UsageError } from '../../src/errors.js';
import { setup } from '../support/daemon-setup.js';

describe('applyMethodFor', () => {
  it.each([
    ['systemd', ['systemctl', 'reload', 'docker'], ['systemctl', 'restart', 'docker']],
    ['rootless', ['systemctl', '--user', 'reload', 'docker'], ['systemctl', '--user', 'restart', 'docker']],
    ['openrc', ['rc-service', 'docker', 'reload'], ['rc-service', 'docker', 'restart']],
  ] as const)('%s reloads with its service manager and restarts on request', (kind, reload, restart) => {
    expect(applyMethodFor(setup(kind), 'auto')).toMatchObject({ method: 'reload', command: reload, stopsContainers: false });
    expect(applyMethodFor(setup(kind), 'reload').command).toEqual(reload);
    expect(applyMethodFor(setup(kind, { restartStopsContainers: false }), 'restart')).toMatchObject({ method: 'restart', command: restart, stopsContainers: false });
  });

  it.each([
    ['snap', ['snap', 'restart', 'docker']],
    ['sysvinit', ['service', 'docker', 'restart']],
  ] as const)('%s sends SIGHUP when dockerd is visible, else restarts', (kind, restart) => {
    const visible = setup(kind, { pid: 9, pidFile: '/run/docker.pid' });
    expect(applyMethodFor(visible, 'auto').command).toEqual({ signal: 'SIGHUP', pid: 9, pidFile: '/run/docker.pid' });
    expect(applyMethodFor(visible, 'restart').command).toEqual(restart);
    expect(applyMethodFor(setup(kind), 'auto')).toMatchObject({ method: 'restart', command: restart, stopsContainers: true });
    expect(() => applyMethodFor(setup(kind), 'reload')).toThrow(UsageError);
  });

  it('plain dockerd: SIGHUP only; restart is refused', () => {
    expect(applyMethodFor(setup('plain', { pid: 5 }), 'auto').command).toEqual({ signal: 'SIGHUP', pid: 5 });
    expect(() => applyMethodFor(setup('plain', { pid: 5 }), 'restart')).toThrow(/no service manager/);
    expect(() => applyMethodFor(setup('plain'), 'auto')).toThrow(UsageError);
  });

  it('Desktop and Windows Engine can only restart, and that stops containers', () => {
    expect(applyMethodFor(setup('desktop'), 'auto')).toMatchObject({ method: 'restart', command: ['docker', 'desktop', 'restart'], stopsContainers: true });
    expect(applyMethodFor(setup('windows-engine'), 'restart').command).toEqual(['powershell', '-NoProfile', '-Command', 'Restart-Service docker']);
    expect(() => applyMethodFor(setup('desktop'), 'reload')).toThrow(UsageError);
    expect(() => applyMethodFor(setup('windows-engine'), 'reload')).toThrow(UsageError);
    expect(() => applyMethodFor(setup('unknown'), 'auto')).toThrow(expect.objectContaining({ hint: expect.stringContaining('DOCKMIRROR_SETUP') }));
  });
});

describe('runApply', () => {
  it('turns a failing command into ApplyError with its stderr', async () => {
    const plan = { method: 'reload' as const, command: ['sh', '-c', 'echo boom >&2; exit 3'], stopsContainers: false, why: '' };
    await expect(runApply(plan)).rejects.toThrow(/exit 3.*boom/);
    await expect(runApply({ ...plan, command: ['dm-no-such-command'] })).rejects.toBeInstanceOf(ApplyError);
  });

  it('reports a signal to a gone pid as ApplyError', async () => {
    const plan = { method: 'reload' as const, command: { signal: 'SIGHUP' as const, pid: 2 ** 22 + 12345 }, stopsContainers: false, why: '' };
    await expect(runApply(plan)).rejects.toBeInstanceOf(ApplyError);
  });
});

describe('checkMirrorPathSupport', () => {
  it('refuses a path before 25.0 and names the version', () => {
    expect(() => checkMirrorPathSupport('20.10.24+dfsg1', 'https://m.example/prefix')).toThrow(InvalidMirrorError);
    expect(() => checkMirrorPathSupport('24.0.9', 'https://m.example/prefix/')).toThrow(/24\.0\.9/);
  });
  it('accepts a path from 25.0, no path on any version, and unknown versions', () => {
    expect(() => checkMirrorPathSupport('25.0.0', 'https://m.example/prefix')).not.toThrow();
    expect(() => checkMirrorPathSupport('20.10.24', 'https://m.example/')).not.toThrow();
    expect(() => checkMirrorPathSupport('dev', 'https://m.example/p')).not.toThrow();
  });
});
