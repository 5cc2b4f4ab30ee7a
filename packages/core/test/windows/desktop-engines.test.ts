// Setup detection from evidence for the engines that run dockerd in a VM or an app: Docker Desktop (every OS,
// WSL2, Windows containers), OrbStack, Colima and Rancher Desktop. None of them can run here, so their answers
// are recorded shapes (fixtures/engines.json) served by a stand-in Engine on a unix socket where a daemon must
// answer; the docker context files are written as the docker CLI writes them.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMirror } from '../../src/index.js';
import { locateDaemonConfig } from '../../src/config/locate.js';
import { applyMethodFor, runApply } from '../../src/daemon/service.js';
import { gatherLocalEvidence, identifyVmEngine } from '../../src/daemon/desktop.js';
import type { EngineInfo, EngineVersion } from '../../src/daemon/engine.js';
import { detectSetup } from '../../src/daemon/setup.js';
import { UsageError } from '../../src/errors.js';

interface Fixture {
  platform: NodeJS.Platform;
  wsl?: boolean;
  endpoint: string;
  context?: string;
  info: EngineInfo;
  version: EngineVersion;
}

const here = path.dirname(fileURLToPath(import.meta.url));
let fixtures: Record<string, Fixture>;
let dir: string;

beforeAll(async () => {
  const { _about: _ignored, ...all } = JSON.parse(await readFile(path.join(here, 'fixtures', 'engines.json'), 'utf8')) as Record<string, Fixture> & { _about: string };
  fixtures = all;
  dir = await mkdtemp(path.join(tmpdir(), 'dm-engines-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const homeFor = (platform: NodeJS.Platform) => (platform === 'win32' ? 'C:\\Users\\ada' : platform === 'darwin' ? '/Users/ada' : '/home/ada');

/** detectSetup from a fixture, with an empty /proc (or one that says WSL) and an injected home. */
async function setupOf(name: string, extra: { wslWindowsDrive?: string; env?: NodeJS.ProcessEnv } = {}) {
  const f = fixtures[name] as Fixture;
  const procRoot = path.join(dir, `proc-${name}`);
  await mkdir(procRoot, { recursive: true });
  await writeFile(path.join(procRoot, 'version'), f.wsl ? 'Linux version 5.15.167.4-microsoft-standard-WSL2 (root@1d0c0e4b1c3f) (gcc (GCC) 11.2.0)\n' : 'Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org)\n');
  return detectSetup({
    endpoint: f.endpoint,
    info: f.info,
    version: f.version,
    platform: f.platform,
    env: extra.env ?? {},
    homedir: homeFor(f.platform),
    procRoot,
    exists: () => false,
    ...(f.context ? { context: f.context } : {}),
    ...(extra.wslWindowsDrive ? { wslWindowsDrive: extra.wslWindowsDrive } : {}),
  });
}

function planOf(setup: Awaited<ReturnType<typeof detectSetup>>): string[] | { refused: string; hint: string | undefined } {
  try {
    return applyMethodFor(setup, 'auto').command as string[];
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return { refused: error.message, hint: error.hint };
  }
}

describe('each engine gets the file it reads and the apply it needs, or a refusal that says what to do', () => {
  it('Docker Desktop on macOS and Linux: ~/.docker/daemon.json, docker desktop restart', async () => {
    for (const name of ['desktop-mac', 'desktop-linux']) {
      const setup = await setupOf(name);
      expect(setup.kind).toBe('desktop');
      expect(setup.engineFile).toBe(`${homeFor(fixtures[name]!.platform)}/.docker/daemon.json`);
      expect(planOf(setup)).toEqual(['docker', 'desktop', 'restart']);
      expect(setup.restartStopsContainers).toBe(true);
    }
  });

  it('Docker Desktop on Windows: %USERPROFILE%; in Windows-containers mode the Windows dockerd file', async () => {
    expect((await setupOf('desktop-windows')).engineFile).toBe('C:\\Users\\ada\\.docker\\daemon.json');
    const windows = await setupOf('desktop-windows-containers');
    expect(windows.engine).toMatchObject({ kind: 'desktop', windowsContainers: true });
    expect(windows.engineFile).toBe('C:\\ProgramData\\docker\\config\\daemon.json');
  });

  it('Docker Desktop before 4.37 is told to restart from the app, with --apply none', async () => {
    const plan = planOf(await setupOf('desktop-windows-4.36'));
    expect(plan).toMatchObject({ refused: expect.stringContaining('Docker Desktop 4.36.0 has no `docker desktop` command') });
    expect((plan as { hint: string }).hint).toContain('--apply none, then restart Docker Desktop from its menu');
  });

  it('WSL2 with Docker Desktop: the Windows-side file under /mnt/c/Users/<profile>, never /etc/docker in WSL', async () => {
    const drive = path.join(dir, 'mnt-c');
    await mkdir(path.join(drive, 'Users', 'ada', '.docker'), { recursive: true });
    await mkdir(path.join(drive, 'Users', 'Public', '.docker'), { recursive: true });
    await mkdir(path.join(drive, 'Users', 'Default'), { recursive: true });
    const setup = await setupOf('wsl-desktop', { wslWindowsDrive: drive });
    expect(setup.engine).toMatchObject({ kind: 'desktop', wsl: true });
    expect(setup.engineFile).toBe(path.join(drive, 'Users', 'ada', '.docker', 'daemon.json'));
    expect(planOf(setup)).toEqual(['docker', 'desktop', 'restart']);
    expect(setup.logHint).toContain('%LOCALAPPDATA%');
    // WSLENV=USERPROFILE/p hands the profile over: it wins.
    expect((await setupOf('wsl-desktop', { wslWindowsDrive: drive, env: { USERPROFILE: '/mnt/c/Users/bob' } })).engineFile).toBe('/mnt/c/Users/bob/.docker/daemon.json');
    // Two people's profiles: which one is not guessed.
    await mkdir(path.join(drive, 'Users', 'bob', '.docker'), { recursive: true });
    const unclear = await setupOf('wsl-desktop', { wslWindowsDrive: drive });
    expect(unclear.engineFile).toBeUndefined();
    expect(planOf(unclear)).toMatchObject({ refused: expect.stringContaining('the Windows profile it belongs to is not clear'), hint: expect.stringContaining('--config-file') });
  });

  it('OrbStack: ~/.orbstack/config/docker.json, orb restart docker', async () => {
    const setup = await setupOf('orbstack');
    expect(setup.kind).toBe('orbstack');
    expect(setup.engineFile).toBe('/Users/ada/.orbstack/config/docker.json');
    expect(planOf(setup)).toEqual(['orb', 'restart', 'docker']);
    expect(() => applyMethodFor(setup, 'reload')).toThrow(UsageError);
  });

  it('Colima (default and named profiles): refused, naming colima.yaml and the restart', async () => {
    const plain = planOf(await setupOf('colima'));
    expect(plain).toMatchObject({ refused: expect.stringContaining('/Users/ada/.colima/default/colima.yaml') });
    expect((plain as { hint: string }).hint).toContain('colima stop && colima start');
    const work = await setupOf('colima-profile');
    expect(work.engine).toMatchObject({ kind: 'colima', profile: 'work' });
    expect((planOf(work) as { hint: string }).hint).toContain('colima stop -p work && colima start -p work');
  });

  it('Rancher Desktop (macOS and Windows): refused, naming the provisioning script', async () => {
    const mac = planOf(await setupOf('rancher-desktop-mac'));
    expect((mac as { hint: string }).hint).toContain('/Users/ada/Library/Application Support/rancher-desktop/lima/_config/override.yaml');
    const win = planOf(await setupOf('rancher-desktop-windows'));
    expect((win as { refused: string }).refused).toContain('Rancher Desktop');
  });

  it('a plain Engine on Linux and the Windows Engine are no VM engine', async () => {
    const linux = await setupOf('linux-engine');
    expect(linux.engine).toBeUndefined();
    expect(linux.engineFile).toBeUndefined();
    const windows = await setupOf('windows-engine');
    expect(windows.kind).toBe('windows-engine');
    expect(windows.engine).toBeUndefined();
  });

  it('DOCKMIRROR_SETUP still forces the kind, and then no engine file is assumed', async () => {
    const f = fixtures.orbstack as Fixture;
    const forced = await detectSetup({ endpoint: f.endpoint, info: f.info, platform: 'darwin', env: { DOCKMIRROR_SETUP: 'desktop' }, homedir: '/Users/ada' });
    expect(forced.kind).toBe('desktop');
    expect(forced.engineFile).toBeUndefined();
  });
});

describe('evidence before the daemon is asked: the docker context and the socket', () => {
  /** A docker CLI config folder with `contexts` (name → host), as `docker context create` leaves it. */
  async function dockerConfig(name: string, contexts: Record<string, string>, current?: string): Promise<string> {
    const config = path.join(dir, name, '.docker');
    for (const [context, host] of Object.entries(contexts)) {
      const meta = path.join(config, 'contexts', 'meta', createHash('sha256').update(context).digest('hex'));
      await mkdir(meta, { recursive: true });
      await writeFile(path.join(meta, 'meta.json'), JSON.stringify({ Name: context, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }));
    }
    await mkdir(config, { recursive: true });
    await writeFile(path.join(config, 'config.json'), JSON.stringify(current ? { currentContext: current } : {}));
    return config;
  }

  it('the current context names the engine', async () => {
    const config = await dockerConfig('ctx-current', { colima: 'unix:///Users/ada/.colima/default/docker.sock' }, 'colima');
    const evidence = await gatherLocalEvidence({ platform: 'darwin', env: { DOCKER_CONFIG: config }, homedir: '/Users/ada' });
    expect(evidence).toMatchObject({ endpoint: 'unix:///Users/ada/.colima/default/docker.sock', context: 'colima' });
    expect(identifyVmEngine(evidence)).toMatchObject({ kind: 'colima', profile: 'default' });
  });

  it('DOCKER_HOST set by hand is matched to the context that serves it; a meta.json filed under another name is not believed', async () => {
    const host = 'unix:///Users/ada/.orbstack/run/docker.sock';
    const config = await dockerConfig('ctx-match', { orbstack: host });
    const evidence = await gatherLocalEvidence({ platform: 'darwin', env: { DOCKER_CONFIG: config, DOCKER_HOST: host }, homedir: '/Users/ada' });
    expect(evidence.context).toBe('orbstack');
    const forged = await dockerConfig('ctx-forged', {});
    const wrong = path.join(forged, 'contexts', 'meta', createHash('sha256').update('something-else').digest('hex'));
    await mkdir(wrong, { recursive: true });
    await writeFile(path.join(wrong, 'meta.json'), JSON.stringify({ Name: 'rancher-desktop', Endpoints: { docker: { Host: 'unix:///tmp/x.sock' } } }));
    expect((await gatherLocalEvidence({ platform: 'darwin', env: { DOCKER_CONFIG: forged, DOCKER_HOST: 'unix:///tmp/x.sock' }, homedir: '/Users/ada' })).context).toBeUndefined();
  });

  it('a default socket that is a symlink to Colima\'s is Colima', async () => {
    const colima = path.join(dir, 'sock', '.colima', 'dev', 'docker.sock');
    await mkdir(path.dirname(colima), { recursive: true });
    await writeFile(colima, '');
    const link = path.join(dir, 'sock', 'docker.sock');
    await symlink(colima, link);
    const evidence = await gatherLocalEvidence({ platform: 'darwin', dockerHost: `unix://${link}`, env: {}, homedir: '/Users/ada' });
    expect(identifyVmEngine(evidence)).toMatchObject({ kind: 'colima', profile: 'dev' });
  });

  it('inside WSL, a socket from Desktop\'s integration is Desktop on the Windows side, before the daemon is asked', async () => {
    const procRoot = path.join(dir, 'proc-wsl-local');
    await mkdir(procRoot, { recursive: true });
    await writeFile(path.join(procRoot, 'version'), 'Linux version 5.15.167.4-microsoft-standard-WSL2\n');
    const evidence = await gatherLocalEvidence({ platform: 'linux', dockerHost: 'unix:///var/run/docker.sock', env: {}, homedir: '/home/ada', procRoot });
    expect(evidence.wsl).toBe(true);
    // What /var/run/docker.sock resolves to with Desktop's WSL integration.
    const engine = identifyVmEngine({ ...evidence, socketTarget: '/mnt/wsl/docker-desktop/shared-sockets/guest-services/docker.proxy.sock' });
    expect(engine).toMatchObject({ kind: 'desktop', wsl: true });
    const drive = path.join(dir, 'mnt-c-local');
    await mkdir(path.join(drive, 'Users', 'ada', '.docker'), { recursive: true });
    expect(locateDaemonConfig({ platform: 'linux', env: {}, homedir: '/home/ada', wslWindowsDrive: drive, ...(engine ? { vmEngine: engine } : {}) }).path).toBe(
      path.join(drive, 'Users', 'ada', '.docker', 'daemon.json'),
    );
  });

  it('locate takes the engine: OrbStack\'s file, or the refusal for Colima', () => {
    const orb = identifyVmEngine({ platform: 'darwin', context: 'orbstack' });
    expect(locateDaemonConfig({ platform: 'darwin', env: {}, homedir: '/Users/ada', ...(orb ? { vmEngine: orb } : {}) })).toMatchObject({
      path: '/Users/ada/.orbstack/config/docker.json',
      setup: 'orbstack',
    });
    const colima = identifyVmEngine({ platform: 'darwin', context: 'colima' });
    expect(() => locateDaemonConfig({ platform: 'darwin', env: {}, homedir: '/Users/ada', ...(colima ? { vmEngine: colima } : {}) })).toThrow(/colima\.yaml/);
    // An explicit file still wins: the user knows which file the engine reads.
    expect(locateDaemonConfig({ platform: 'darwin', env: {}, homedir: '/Users/ada', configFile: '/x/daemon.json', ...(colima ? { vmEngine: colima } : {}) }).path).toBe('/x/daemon.json');
  });
});

describe('through the public API: never a file the engine does not read', () => {
  it('macOS with Colima: --apply none is refused and no file is written', async () => {
    const home = path.join(dir, 'mac-colima');
    const error = await addMirror({
      mirror: 'https://mirror.gcr.io', apply: 'none', platform: 'darwin', env: {}, homedir: home,
      dockerHost: `unix://${home}/.colima/default/docker.sock`,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toContain('colima.yaml');
    expect(existsSync(path.join(home, '.docker', 'daemon.json'))).toBe(false);
  });

  it('macOS with OrbStack: --apply none writes ~/.orbstack/config/docker.json', async () => {
    const home = path.join(dir, 'mac-orb');
    await mkdir(path.join(home, '.orbstack', 'config'), { recursive: true });
    const result = await addMirror({
      mirror: 'https://mirror.gcr.io', apply: 'none', platform: 'darwin', env: {}, homedir: home,
      dockerHost: `unix://${home}/.orbstack/run/docker.sock`,
    });
    expect(result.configFile).toBe(path.join(home, '.orbstack', 'config', 'docker.json'));
    expect(await readFile(path.join(home, '.orbstack', 'config', 'docker.json'), 'utf8')).toContain('https://mirror.gcr.io');
  });

  describe('a daemon that says it is OrbStack, while the file named is another', () => {
    let server: Server;
    let socket: string;
    beforeAll(async () => {
      // Stand-in for OrbStack's Engine (it cannot run here): recorded /info and /version, nothing else.
      socket = path.join(dir, 'orb.sock');
      const f = () => fixtures.orbstack as Fixture;
      server = createServer((req, res) => {
        const body = req.url === '/_ping' ? 'OK' : req.url?.startsWith('/version') ? JSON.stringify(f().version) : req.url?.startsWith('/info') ? JSON.stringify(f().info) : req.url?.startsWith('/containers/json') ? '[]' : undefined;
        if (body === undefined) res.writeHead(404).end('{"message":"not here"}');
        else res.writeHead(200, { 'Content-Type': req.url === '/_ping' ? 'text/plain' : 'application/json' }).end(body);
      });
      await new Promise<void>((resolve) => server.listen(socket, resolve));
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('is refused before a byte is written, naming the file it reads', async () => {
      const file = path.join(dir, 'orb-wrong', 'daemon.json');
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, '{}\n');
      const home = path.join(dir, 'orb-home');
      const error = await addMirror({
        mirror: 'https://mirror.gcr.io', apply: 'auto', yes: true, platform: 'darwin', env: {}, homedir: home, configFile: file,
        dockerHost: `unix://${socket}`, timeoutMs: 5_000,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).message).toContain(`reads ${path.join(home, '.orbstack', 'config', 'docker.json')}, not ${file}. Nothing was written.`);
      expect(await readFile(file, 'utf8')).toBe('{}\n');
    });
  });
});

describe('restarts are waited for, not cut off at --timeout', () => {
  it('a restart command that outlasts the timeout runs to its end', async () => {
    const done = await runApply({ method: 'restart', command: ['sh', '-c', 'sleep 0.5; echo restarted'], stopsContainers: true, why: 'test' }, { timeoutMs: 50 });
    expect(done.stdout).toBe('restarted\n');
  });

  it('a reload command is still bounded by the timeout', async () => {
    await expect(runApply({ method: 'reload', command: ['sh', '-c', 'sleep 5'], stopsContainers: false, why: 'test' }, { timeoutMs: 100 })).rejects.toThrow(/still running after 0.1 s/);
  });

  it('Desktop without the desktop command: the failure says to restart from the app', async () => {
    const fakeBin = path.join(dir, 'bin');
    await mkdir(fakeBin, { recursive: true });
    // Stand-in for the docker CLI of a Desktop before 4.37 (cannot run here); its real message.
    await writeFile(path.join(fakeBin, 'docker'), "#!/bin/sh\necho \"docker: 'desktop' is not a docker command.\" >&2\nexit 1\n", { mode: 0o755 });
    const error = await runApply(
      { method: 'restart', command: ['docker', 'desktop', 'restart'], stopsContainers: true, why: 'test' },
      { env: { PATH: `${fakeBin}:/usr/bin:/bin` } },
    ).catch((e: unknown) => e);
    expect((error as { hint?: string }).hint).toContain('older than 4.37');
  });
});
