// How dockmirror reads a dockerd's argv: the flag spellings dockerd accepts, which endpoint a -H claims, and the
// hosts a daemon serves. A wrong answer here points a SIGHUP or a conflict check at the wrong daemon.
import { describe, expect, it } from 'vitest';
import { daemonHosts, flagValues, hostMatches } from '../../src/daemon/dockerd-process.js';

describe('flagValues: every spelling dockerd accepts', () => {
  it('reads --flag=v, --flag v, -H v, -H=v and -Hv, in order', () => {
    const argv = ['dockerd', '--host=unix:///a.sock', '--host', 'tcp://0.0.0.0:2375', '-H', 'unix:///b.sock', '-H=fd://', '-Hunix:///c.sock'];
    expect(flagValues(argv, '--host', '-H')).toEqual(['unix:///a.sock', 'tcp://0.0.0.0:2375', 'unix:///b.sock', 'fd://', 'unix:///c.sock']);
  });

  it('takes the value after a bare flag as its value, never as a flag of its own', () => {
    expect(flagValues(['dockerd', '--config-file', '--debug', '--debug'], '--config-file')).toEqual(['--debug']);
    expect(flagValues(['dockerd', '-H', '-H', 'x'], '--host', '-H')).toEqual(['-H']);
  });

  it('a bare flag at the end has no value', () => {
    expect(flagValues(['dockerd', '--config-file'], '--config-file')).toEqual([]);
    expect(flagValues(['dockerd', '-H'], '--host', '-H')).toEqual([]);
  });

  it('does not read a longer flag that starts with the same letters, nor a long flag as the short one', () => {
    expect(flagValues(['dockerd', '--hostname=x', '--host-gateway-ip=1.2.3.4'], '--host', '-H')).toEqual([]);
    expect(flagValues(['dockerd', '--config-file-x=/a'], '--config-file')).toEqual([]);
    // `--H...` is not the one-letter flag -H.
    expect(flagValues(['dockerd', '--Hx'], '--H', '-H')).toEqual([]);
  });

  it('a one-letter value may end in dashes', () => {
    expect(flagValues(['dockerd', '-Hunix:///tmp/a--'], '--host', '-H')).toEqual(['unix:///tmp/a--']);
  });

  it('without a short alias, only the long spellings count', () => {
    expect(flagValues(['dockerd', '-H', 'unix:///a.sock', '-Hb'], '--host')).toEqual([]);
  });

  it('reads an empty value as empty', () => {
    expect(flagValues(['dockerd', '--config-file='], '--config-file')).toEqual(['']);
    expect(flagValues(['dockerd', '--config-file', ''], '--config-file')).toEqual(['']);
  });
});

describe('hostMatches: does a -H value claim the endpoint', () => {
  it('unix sockets match on their path, /var/run and /run being one folder', () => {
    expect(hostMatches('unix:///var/run/docker.sock', 'unix:///run/docker.sock')).toBe(true);
    expect(hostMatches('unix:///run//docker.sock', 'unix:///run/docker.sock')).toBe(true);
    expect(hostMatches('unix:///run/a/../docker.sock', 'unix:///run/docker.sock')).toBe(true);
    expect(hostMatches('unix:///tmp/a.sock', 'unix:///tmp/b.sock')).toBe(false);
    // unix:// alone is dockerd's default socket.
    expect(hostMatches('unix://', 'unix:///var/run/docker.sock')).toBe(true);
    expect(hostMatches('unix://', 'unix:///tmp/docker.sock')).toBe(false);
  });

  it('fd:// is systemd\'s socket, /run/docker.sock', () => {
    expect(hostMatches('fd://', 'unix:///run/docker.sock')).toBe(true);
    expect(hostMatches('fd://3', 'unix:///var/run/docker.sock')).toBe(true);
    expect(hostMatches('fd://', 'unix:///tmp/docker.sock')).toBe(false);
  });

  it('a unix socket never matches a TCP endpoint', () => {
    expect(hostMatches('unix:///run/docker.sock', 'tcp://127.0.0.1:2375')).toBe(false);
    expect(hostMatches('tcp://127.0.0.1:2375', 'unix:///run/docker.sock')).toBe(false);
  });

  it('TCP matches on port, with 2375 as the default, and on host unless dockerd listens on every address', () => {
    expect(hostMatches('tcp://127.0.0.1:2375', 'tcp://127.0.0.1:2375')).toBe(true);
    expect(hostMatches('tcp://127.0.0.1', 'tcp://127.0.0.1:2375')).toBe(true);
    expect(hostMatches('tcp://127.0.0.1:2375', 'http://127.0.0.1')).toBe(true);
    expect(hostMatches('tcp://127.0.0.1:2376', 'tcp://127.0.0.1:2375')).toBe(false);
    expect(hostMatches('tcp://127.0.0.2:2375', 'tcp://127.0.0.1:2375')).toBe(false);
    expect(hostMatches('tcp://0.0.0.0:2375', 'tcp://10.1.2.3:2375')).toBe(true);
    expect(hostMatches('tcp://[::]:2375', 'tcp://10.1.2.3:2375')).toBe(true);
    expect(hostMatches('tcp://0.0.0.0:2376', 'tcp://10.1.2.3:2375')).toBe(false);
  });

  it('other schemes match only when spelled the same', () => {
    expect(hostMatches('npipe:////./pipe/docker_engine', 'npipe:////./pipe/docker_engine')).toBe(true);
    expect(hostMatches('npipe:////./pipe/a', 'npipe:////./pipe/b')).toBe(false);
    expect(hostMatches('ssh://me@host', 'tcp://host:2375')).toBe(false);
  });
});

describe('daemonHosts: what a daemon serves', () => {
  it('its -H flags when it has any', () => {
    expect(daemonHosts(['dockerd', '-H', 'unix:///a.sock', '--host=tcp://0.0.0.0:2375'], ['unix:///cfg.sock'])).toEqual(['unix:///a.sock', 'tcp://0.0.0.0:2375']);
  });

  it('else the config file\'s hosts, else the default socket', () => {
    expect(daemonHosts(['dockerd', '--debug'], ['unix:///cfg.sock'])).toEqual(['unix:///cfg.sock']);
    expect(daemonHosts(['dockerd', '--debug'])).toEqual(['unix:///var/run/docker.sock']);
    expect(daemonHosts(['dockerd'], [])).toEqual(['unix:///var/run/docker.sock']);
  });
});
