/**
 * A real podman 4.3 per test file, hermetic: its own storage (vfs), runroot, containers.conf, HOME and
 * registries.conf (CONTAINERS_REGISTRIES_CONF), plus a real docker-registry on loopback seeded with
 * `library/alpine:3.16.2` and `someorg/tool:1`, whose access log shows what a pull fetched. There is no
 * internet, so a pull of `docker.io/…` or `ghcr.io/…` succeeds only through a mirror.
 *
 * podman also reads `/etc/containers/registries.conf.d` whatever CONTAINERS_REGISTRIES_CONF says, and creates
 * folders under /run. Each podman therefore runs in its own mount namespace (unshare) with a tmpfs on /run and
 * the rig's `<rootDir>/etc/containers` bound over `/etc/containers`: nothing of the host's is read there,
 * nothing under /etc or /run is written, and tests can put a "system" registries.conf and drop-ins in place for
 * real (pass `rootDir` to the core so it looks at the same files).
 * Always pair startPodmanRig with afterAll(stop).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pullWithPodman as corePull } from '../../src/engines/podman/pull.js';
import type { RunCommand } from '../../src/presets/run-command.js';
import { countManifestRequests } from '../../src/verify/access-log.js';
import type { ImageRef } from '../../src/verify/image-ref.js';
import { requirePrograms } from './programs.js';
import { pushImage, startRegistry, type TestRegistry } from './registry.js';

/** The folder podman reads its system files from; the rig binds its own over it, inside podman's namespace only. */
export const SYSTEM_DIR = '/etc/containers';

/** What a podman run printed. */
export interface PodmanRun {
  /** Exit code (null after a signal). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A pull made by {@link PodmanRig.pullWithPodman}. */
export interface PodmanPull {
  /** podman pull exited 0. */
  ok: boolean;
  /** Its stderr (the reason when it failed). */
  stderr: string;
  /** Manifest requests for the image the rig's registry logged during the pull. */
  mirrorRequests: number;
}

/** A running rig. */
export interface PodmanRig {
  /** The temp folder holding everything. */
  dir: string;
  /** The registries.conf podman reads (CONTAINERS_REGISTRIES_CONF); it does not exist until a test writes it. */
  registriesConf: string;
  /** podman's HOME (its `~/.config/containers/registries.conf.d` is read too). */
  home: string;
  /** What podman sees as `/`-rooted `/etc/containers` lives under here (`<rootDir>/etc/containers`). */
  rootDir: string;
  /** `<rootDir>/etc/containers`, bound over /etc/containers for podman: holds only policy.json at first. */
  systemDir: string;
  /** `<systemDir>/registries.conf.d`, empty at first. */
  systemDropIns: string;
  /** The registry (`http://127.0.0.1:<port>`), and `127.0.0.1:<port>`, the form a registries.conf location takes. */
  registry: TestRegistry & { location: string; accessLog: string };
  /** The images in the registry, by the name a user pulls them by, with their digests. */
  images: { alpine: { name: string; digest: string }; tool: { name: string; digest: string } };
  /** The environment podman runs with. */
  env: NodeJS.ProcessEnv;
  /** Runs podman (in its namespace) with `args`; `env` adds to or overrides the rig's (undefined removes). */
  podman(args: readonly string[], env?: Record<string, string | undefined>): Promise<PodmanRun>;
  /**
   * Runs any program in a namespace like podman's (the rig's /etc/containers, a private /run), e.g. the built
   * CLI, so it sees exactly the files podman sees. `env` is its whole environment.
   */
  exec(program: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<PodmanRun>;
  /** Starts a long-running podman (e.g. `system service`) in such a namespace; its pid is podman's. Stop it by pid. */
  spawnPodman(args: readonly string[]): ChildProcess;
  /** `podman info`'s registries (podman's own effective view); throws when podman info fails. */
  info(env?: Record<string, string | undefined>): Promise<Record<string, unknown>>;
  /**
   * `podman pull <image>` as a user would type it (the core's pullWithPodman, which then removes what the pull
   * added), counting what the rig's registry served meanwhile.
   */
  pullWithPodman(image: string, env?: Record<string, string | undefined>): Promise<PodmanPull>;
  /** Stops the registry by pid and removes the folder (podman leaves no process behind). Idempotent. */
  stop(): Promise<void>;
}

/** Starts a rig; a missing program or a setup failure throws, failing the test file. */
export async function startPodmanRig(): Promise<PodmanRig> {
  requirePrograms('the test podman', [{ program: 'podman', install: 'podman' }, { program: 'unshare', install: 'util-linux' }, 'docker-registry']);
  if (!existsSync(SYSTEM_DIR)) throw new Error(`the test podman cannot start: ${SYSTEM_DIR} is missing (apt-get install podman brings it)`);
  const dir = await mkdtemp('/tmp/dm-podman-');
  const home = path.join(dir, 'home');
  const rootDir = path.join(dir, 'root');
  const systemDir = path.join(rootDir, 'etc', 'containers');
  const systemDropIns = path.join(systemDir, 'registries.conf.d');
  const registriesConf = path.join(dir, 'registries.conf');
  const accessLog = path.join(dir, 'registry-access.log');
  for (const d of [home, systemDropIns, path.join(dir, 'tmp')]) await mkdir(d, { recursive: true });
  await writeFile(path.join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\nrunroot = "${dir}/run"\ngraphroot = "${dir}/store"\n`);
  await writeFile(path.join(dir, 'containers.conf'), [
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${dir}/events.log"`,
    `tmp_dir = "${dir}/libpod"`,
    `image_copy_tmp_dir = "${dir}/tmp"`,
    '[network]',
    `network_config_dir = "${dir}/networks"`,
    '',
  ].join('\n'));
  await writeFile(path.join(systemDir, 'policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}\n');
  let registry: TestRegistry | undefined;
  try {
    registry = await startRegistry({ accessLog });
    const alpine = await pushImage(registry.url, 'library/alpine', '3.16.2');
    const tool = await pushImage(registry.url, 'someorg/tool', '1');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: home,
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'),
      CONTAINERS_CONF: path.join(dir, 'containers.conf'),
      TMPDIR: path.join(dir, 'tmp'),
    };
    // unshare and sh exec in turn (no fork), so the child's pid ends up being the program's.
    const script = 'mount -t tmpfs tmpfs /run && mount --bind "$0" /etc/containers && exec "$@"';
    const inNamespace = (program: string, args: readonly string[]): string[] => ['--mount', '--propagation', 'private', 'sh', '-c', script, systemDir, program, ...args];
    const spawnPodman = (args: readonly string[]): ChildProcess => spawn('unshare', inNamespace('podman', args), { env, stdio: 'ignore' });
    const exec = (program: string, args: readonly string[], childEnv: NodeJS.ProcessEnv): Promise<PodmanRun> => {
      return new Promise((resolve) => {
        execFile('unshare', inNamespace(program, args), { env: childEnv, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
          resolve({ code, stdout, stderr });
        });
      });
    };
    const podman = (args: readonly string[], extra: Record<string, string | undefined> = {}): Promise<PodmanRun> => {
      const merged: NodeJS.ProcessEnv = { ...env };
      for (const [k, v] of Object.entries(extra)) if (v === undefined) delete merged[k]; else merged[k] = v;
      return exec('podman', args, merged);
    };
    const info = async (extra?: Record<string, string | undefined>): Promise<Record<string, unknown>> => {
      const out = await podman(['info', '--format', 'json'], extra);
      if (out.code !== 0) throw new Error(`podman info failed (${String(out.code)}): ${out.stderr}`);
      return (JSON.parse(out.stdout) as { registries: Record<string, unknown> }).registries;
    };
    const pullWithPodman = async (image: string, extra?: Record<string, string | undefined>): Promise<PodmanPull> => {
      const ref = pathOnMirror(image);
      const count = async (): Promise<number> => countManifestRequests(await readFile(accessLog, 'utf8').catch(() => ''), ref);
      const before = await count();
      // The core's own verify pull, run through this namespace.
      const run: RunCommand = async (_file, args) => {
        const out = await podman(args, extra);
        return { stdout: out.stdout, stderr: out.stderr, exitCode: out.code };
      };
      const pulled = await corePull(image, { env: {}, run });
      const mirrorRequests = (await count()) - before;
      if (pulled.ok && !pulled.wasPresent && !pulled.removed) throw new Error(`the pull of ${image} left the image behind: ${pulled.error ?? ''}`);
      return { ok: pulled.ok, stderr: pulled.error ?? '', mirrorRequests };
    };
    const started = registry;
    let stopped = false;
    return {
      dir,
      registriesConf,
      home,
      rootDir,
      systemDir,
      systemDropIns,
      registry: { ...started, location: `127.0.0.1:${started.port}`, accessLog },
      images: { alpine: { name: 'docker.io/library/alpine:3.16.2', digest: alpine.digest }, tool: { name: 'ghcr.io/someorg/tool:1', digest: tool.digest } },
      env,
      podman,
      exec,
      spawnPodman,
      info,
      pullWithPodman,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await started.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The repository and tag a mirror is asked for when `host/repo:tag` is pulled through it (the host is dropped). */
function pathOnMirror(image: string): ImageRef {
  const match = /^[^/]+\/([^@]+?)(?::([\w][\w.-]*))?$/.exec(image);
  if (!match) throw new Error(`pullWithPodman takes a full name such as docker.io/library/alpine:3.16.2, not ${image}`);
  const repository = match[1] as string;
  const reference = match[2] ?? 'latest';
  return { repository, reference, familiar: `${repository}:${reference}`, official: repository.startsWith('library/') };
}

/** A hash of a folder tree (names, modes and bytes), to prove a run left it exactly as it was. */
export function treeHash(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      const info = lstatSync(full);
      hash.update(`${full}\0${info.mode}\0`);
      if (info.isDirectory()) walk(full);
      else if (info.isFile()) hash.update(readFileSync(full));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

/** A registries.conf as a host might have it: a comment, search registries, a prefix-less table, aliases. */
export const SAMPLE_REGISTRIES_CONF = [
  '# Registries for this host; see containers-registries.conf(5).',
  'unqualified-search-registries = ["docker.io"]',
  '',
  '[[registry]]',
  'location = "quay.io"  # no prefix: the location is the prefix',
  '',
  '[aliases]',
  '"busybox" = "docker.io/library/busybox"',
  '',
].join('\n');
