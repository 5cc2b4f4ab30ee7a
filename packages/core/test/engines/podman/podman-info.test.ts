// podman's own view as the core reads it from `podman info` output, and where podman machine puts the file that
// counts. The same reader against the real podman's output is in podman-real.test.ts.
import { describe, expect, it } from 'vitest';
import { podmanMachineVerdict, podmanRegistries, registriesFromInfo } from '../../../src/engines/podman/podman-info.js';

describe('registriesFromInfo', () => {
  it('reads podman 4.3\'s registries object, search list and null mirrors', () => {
    const json = JSON.stringify({
      host: {},
      registries: {
        'docker.io': { Prefix: 'docker.io', Location: 'docker.io', Insecure: false, PullFromMirror: '', Mirrors: [{ Location: '127.0.0.1:5000', Insecure: true, PullFromMirror: '' }, { Location: 'm', Insecure: false, PullFromMirror: 'tag-only' }], Blocked: false, MirrorByDigestOnly: false },
        'quay.io': { Prefix: 'quay.io', Location: 'quay.io', Insecure: true, PullFromMirror: '', Mirrors: null, Blocked: true, MirrorByDigestOnly: true },
        search: ['docker.io'],
      },
    });
    expect(registriesFromInfo(json)).toEqual({
      state: 'ok',
      search: ['docker.io'],
      registries: [
        { prefix: 'docker.io', location: 'docker.io', insecure: false, blocked: false, mirrorByDigestOnly: false, mirrors: [{ location: '127.0.0.1:5000', insecure: true }, { location: 'm', insecure: false, pullFromMirror: 'tag-only' }] },
        { prefix: 'quay.io', location: 'quay.io', insecure: true, blocked: true, mirrorByDigestOnly: true, mirrors: [] },
      ],
    });
  });

  it.each([
    ['no JSON', 'Error: x', /no JSON/],
    ['no registries', '{"host":{}}', /no registries object/],
    ['an entry of another shape', '{"registries":{"docker.io":{"Prefix":1}}}', /unexpected entry for "docker\.io"/],
    ['a mirror of another shape', '{"registries":{"a":{"Prefix":"a","Location":"a","Mirrors":[{"Location":2}]}}}', /unexpected entry/],
  ])('fails, never guesses, on %s', (_name, json, message) => {
    const view = registriesFromInfo(json);
    expect(view.state).toBe('failed');
    expect(view.state === 'failed' && view.message).toMatch(message);
  });
});

describe('podmanRegistries', () => {
  it('says podman is not installed when it is not on PATH', async () => {
    expect(await podmanRegistries({ env: { PATH: '/nonexistent' } })).toEqual({ state: 'not-installed' });
  });
});

describe('podman machine', () => {
  const list = JSON.stringify([
    { Name: 'other', Default: false, Running: true },
    { Name: 'podman-machine-default*', Default: true, Running: false },
  ]);

  it('on Linux podman pulls here, machines or not', () => {
    expect(podmanMachineVerdict('linux', list)).toEqual({ inVm: false });
  });

  it('on macOS the default machine\'s file counts: the message says to start it and how to get in', () => {
    const verdict = podmanMachineVerdict('darwin', list);
    expect(verdict).toMatchObject({ inVm: true, machine: 'podman-machine-default', running: false, ssh: ['podman', 'machine', 'ssh', 'podman-machine-default'] });
    expect(verdict.message).toMatch(/^On macOS, podman pulls inside the podman machine "podman-machine-default", so the registries\.conf that counts is the one in that VM/);
    expect(verdict.message).toContain('podman machine start podman-machine-default');
  });

  it('on Windows a running machine needs no start; without a machine, or with unreadable output, it says to create one', () => {
    const running = podmanMachineVerdict('win32', JSON.stringify([{ Name: 'dev', Default: false, Running: true }]));
    expect(running).toMatchObject({ inVm: true, machine: 'dev', running: true });
    expect(running.message).not.toContain('Start it first');
    for (const output of ['[]', 'not json', undefined]) {
      const none = podmanMachineVerdict('win32', output);
      expect(none.inVm).toBe(true);
      expect(none.machine).toBeUndefined();
      expect(none.message).toMatch(/none was found: run "podman machine init"/);
    }
  });
});
