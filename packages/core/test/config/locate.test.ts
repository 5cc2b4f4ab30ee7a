import { describe, expect, it } from 'vitest';
import { locateDaemonConfig, type LocateOptions } from '../../src/config/locate.js';
import { InvalidMirrorError } from '../../src/errors.js';
import { normalizeMirror, validateMirror } from '../../src/mirror/url.js';

const none = () => false;
const only = (...present: string[]) => (file: string) => present.includes(file);
const linux = (extra: LocateOptions = {}) =>
  locateDaemonConfig({ platform: 'linux', env: {}, homedir: '/home/ada', isRoot: true, exists: none, ...extra });

describe('locateDaemonConfig precedence', () => {
  const everything: LocateOptions = {
    platform: 'linux',
    env: { DOCKMIRROR_CONFIG_FILE: '/from/env.json' },
    homedir: '/home/ada',
    dockerdArgs: ['dockerd', '--config-file', '/from/dockerd.json'],
    daemonKind: 'rootless',
    exists: () => true,
  };

  it('an explicit option beats everything', () => {
    expect(locateDaemonConfig({ ...everything, configFile: '/given/daemon.json' })).toMatchObject({
      path: '/given/daemon.json',
      setup: 'custom',
      source: 'option',
    });
  });

  it('a relative option is resolved against the working directory', () => {
    expect(locateDaemonConfig({ ...everything, configFile: 'conf/daemon.json' }).path).toBe(`${process.cwd()}/conf/daemon.json`);
  });

  it('then DOCKMIRROR_CONFIG_FILE', () => {
    expect(locateDaemonConfig(everything)).toMatchObject({ path: '/from/env.json', setup: 'custom', source: 'env' });
  });

  it('an empty DOCKMIRROR_CONFIG_FILE is ignored', () => {
    expect(locateDaemonConfig({ ...everything, env: { DOCKMIRROR_CONFIG_FILE: '' } }).source).toBe('detected');
  });

  it('then the running dockerd\'s --config-file', () => {
    expect(locateDaemonConfig({ ...everything, env: {} })).toMatchObject({ path: '/from/dockerd.json', setup: 'custom', source: 'detected' });
    expect(locateDaemonConfig({ ...everything, env: {}, dockerdArgs: ['/usr/bin/dockerd', '-H', 'fd://', '--config-file=/etc/alt.json'] }).path).toBe('/etc/alt.json');
  });

  it('then detection', () => {
    expect(locateDaemonConfig({ ...everything, env: {}, dockerdArgs: ['dockerd', '-H', 'fd://'] })).toMatchObject({ setup: 'rootless', source: 'detected' });
  });

  it('every answer says why', () => {
    for (const options of [{ ...everything, configFile: '/x' }, everything, { ...everything, env: {} }]) {
      expect(locateDaemonConfig(options).reason.length).toBeGreaterThan(10);
    }
  });
});

describe("the running dockerd's --config-file", () => {
  it.each([
    [['dockerd', '--config-file', '/a.json'], '/a.json'],
    [['dockerd', '--config-file=/b.json', '--debug'], '/b.json'],
    [['dockerd', '--config-file', '/first.json', '--config-file=/last.json'], '/last.json'],
    [['dockerd', '--debug'], '/etc/docker/daemon.json'],
    [['dockerd', '--config-file'], '/etc/docker/daemon.json'],
    [[], '/etc/docker/daemon.json'],
  ] as const)('%j -> %s', (args, expected) => {
    const located = locateDaemonConfig({ platform: 'linux', env: {}, homedir: '/home/u', isRoot: true, exists: () => false, dockerdArgs: args });
    expect(located.path).toBe(expected);
  });
});

describe('Linux detection', () => {
  it('the system daemon reads /etc/docker/daemon.json', () => {
    expect(linux()).toEqual(expect.objectContaining({ path: '/etc/docker/daemon.json', setup: 'linux-system', source: 'detected' }));
  });

  it('snap keeps it under /var/snap', () => {
    expect(linux({ exists: only('/var/snap/docker/current/config') })).toMatchObject({
      path: '/var/snap/docker/current/config/daemon.json',
      setup: 'snap',
    });
    // Unless the running daemon says it is rootless.
    expect(linux({ daemonKind: 'rootless', exists: only('/var/snap/docker/current/config') }).setup).toBe('rootless');
  });

  it('rootless uses $XDG_CONFIG_HOME/docker', () => {
    expect(linux({ daemonKind: 'rootless', env: { XDG_CONFIG_HOME: '/home/ada/.xdg' } })).toMatchObject({
      path: '/home/ada/.xdg/docker/daemon.json',
      setup: 'rootless',
    });
  });

  it('rootless falls back to ~/.config/docker', () => {
    expect(linux({ daemonKind: 'rootless' }).path).toBe('/home/ada/.config/docker/daemon.json');
    expect(linux({ daemonKind: 'rootless', env: { XDG_CONFIG_HOME: '' } }).path).toBe('/home/ada/.config/docker/daemon.json');
  });

  it('rootless is detected from the user socket when not root', () => {
    const env = { XDG_RUNTIME_DIR: '/run/user/1000' };
    expect(linux({ isRoot: false, env, exists: only('/run/user/1000/docker.sock') }).setup).toBe('rootless');
    // Root with a user socket around is still the system daemon, and so is a user without one.
    expect(linux({ isRoot: true, env, exists: only('/run/user/1000/docker.sock') }).setup).toBe('linux-system');
    expect(linux({ isRoot: false, env }).setup).toBe('linux-system');
  });

  it('Docker Desktop for Linux is told by the daemon or by ~/.docker/desktop', () => {
    expect(linux({ daemonKind: 'desktop' })).toMatchObject({ path: '/home/ada/.docker/daemon.json', setup: 'desktop' });
    expect(linux({ isRoot: false, exists: only('/home/ada/.docker/desktop') })).toMatchObject({ setup: 'desktop' });
    // As root, a Desktop folder in root's home does not hide the system daemon.
    expect(linux({ isRoot: true, exists: only('/home/ada/.docker/desktop') }).setup).toBe('linux-system');
    // A daemon that says it is rootless wins over a leftover Desktop folder.
    expect(linux({ isRoot: false, daemonKind: 'rootless', exists: only('/home/ada/.docker/desktop') }).setup).toBe('rootless');
  });
});

describe('macOS and Windows', () => {
  it('Docker Desktop for macOS uses ~/.docker/daemon.json', () => {
    expect(locateDaemonConfig({ platform: 'darwin', env: {}, homedir: '/Users/ada', exists: none })).toMatchObject({
      path: '/Users/ada/.docker/daemon.json',
      setup: 'desktop',
    });
  });

  const win = (extra: LocateOptions = {}) =>
    locateDaemonConfig({ platform: 'win32', env: {}, homedir: 'C:\\Users\\ada', exists: none, ...extra });

  it('the Windows Engine reads %ProgramData%\\docker\\config, with backslashes', () => {
    expect(win()).toMatchObject({ path: 'C:\\ProgramData\\docker\\config\\daemon.json', setup: 'windows-engine' });
    expect(win({ env: { ProgramData: 'D:\\Data' } }).path).toBe('D:\\Data\\docker\\config\\daemon.json');
  });

  it('Docker Desktop for Windows uses %USERPROFILE%\\.docker', () => {
    expect(win({ daemonKind: 'desktop' })).toMatchObject({ path: 'C:\\Users\\ada\\.docker\\daemon.json', setup: 'desktop' });
    expect(win({ exists: only('C:\\Program Files\\Docker\\Docker\\Docker Desktop.exe') }).setup).toBe('desktop');
    expect(win({ env: { ProgramFiles: 'E:\\Apps' }, exists: only('E:\\Apps\\Docker\\Docker\\Docker Desktop.exe') }).setup).toBe('desktop');
  });

  it('Windows paths from the option and the environment are resolved with path.win32', () => {
    expect(win({ configFile: 'D:\\conf\\daemon.json' }).path).toBe('D:\\conf\\daemon.json');
    expect(win({ env: { DOCKMIRROR_CONFIG_FILE: 'D:/conf/daemon.json' } }).path).toBe('D:\\conf\\daemon.json');
    expect(win({ dockerdArgs: ['dockerd.exe', '--config-file', 'C:\\cfg\\d.json'] }).path).toBe('C:\\cfg\\d.json');
  });
});

describe('validateMirror', () => {
  const refused = (input: string, why: RegExp, options = {}) => {
    let error: unknown;
    try {
      validateMirror(input, options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidMirrorError);
    expect((error as InvalidMirrorError).code).toBe('INVALID_MIRROR');
    expect((error as Error).message).toContain(JSON.stringify(input));
    expect((error as Error).message).toMatch(why);
    expect((error as InvalidMirrorError).hint).toBeTruthy();
  };

  it.each([
    ['127.0.0.1:5000', /no scheme/],
    ['mirror.gcr.io', /no scheme/],
    ['', /no scheme/],
    ['//mirror.gcr.io', /no scheme/],
    ['ftp://mirror.example.com', /unsupported scheme ftp/],
    ['unix:///var/run/reg.sock', /unsupported scheme unix/],
    ['https://', /not a URL|no host/],
    ['https://user:secret@mirror.example.com', /credentials/],
    ['https://user@mirror.example.com', /credentials/],
    ['https://mirror.example.com/?x=1', /query or fragment/],
    ['https://mirror.example.com?', /query or fragment/],
    ['https://mirror.example.com#top', /query or fragment/],
    ['https://mirror.example.com/#', /query or fragment/],
    ['http://exa mple.com', /a space at position 11/],
    ['  Https://Mirror.GCR.io//  ', /a space at position 1/],
  ])('refuses %j', (input, why) => refused(input, why));

  it('accepts http and https in any case, and normalises', () => {
    expect(validateMirror('HTTP://127.0.0.1:5000/')).toMatchObject({ url: 'http://127.0.0.1:5000', host: '127.0.0.1:5000', insecure: true, path: undefined, warnings: [] });
    expect(validateMirror('Https://Mirror.GCR.io/')).toMatchObject({ url: 'https://mirror.gcr.io', host: 'mirror.gcr.io', insecure: false });
    expect(validateMirror('http://[::1]:7888').host).toBe('[::1]:7888');
    // dockerd keeps a default port as written (WHATWG URL would drop it), and so does dockmirror.
    expect(validateMirror('https://mirror.example.com:443').url).toBe('https://mirror.example.com:443');
  });

  it('a path is allowed with a warning when the daemon is unknown', () => {
    const v = validateMirror('https://mirror.example.com/v2/proxy/');
    expect(v).toMatchObject({ url: 'https://mirror.example.com/v2/proxy', path: '/v2/proxy' });
    expect(v.warnings).toHaveLength(1);
    expect(v.warnings[0]).toMatch(/path.*25\.0/);
  });

  it('a path is allowed silently for a daemon that takes it, and refused for one that does not', () => {
    expect(validateMirror('https://mirror.example.com/p', { allowPath: true }).warnings).toEqual([]);
    refused('https://mirror.example.com/p', /a path \(\/p\)/, { allowPath: false });
    expect(validateMirror('https://mirror.example.com/', { allowPath: false }).url).toBe('https://mirror.example.com');
  });

  it('normalizeMirror compares without case or trailing slash, and never makes a bad entry match', () => {
    expect(normalizeMirror('HTTPS://MIRROR.gcr.io///')).toBe('https://mirror.gcr.io');
    expect(normalizeMirror(validateMirror('https://mirror.gcr.io/').url)).toBe(normalizeMirror('https://MIRROR.gcr.io'));
    expect(normalizeMirror('mirror.gcr.io/')).toBe('mirror.gcr.io');
    expect(normalizeMirror('mirror.gcr.io')).not.toBe(normalizeMirror('https://mirror.gcr.io'));
  });
});
