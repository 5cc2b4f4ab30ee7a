import { readDaemonConfig } from '../config/io.js';
import { DockmirrorError } from '../errors.js';
import { fileTheDaemonReads, sameFile } from '../engines/docker/rollout.js';
import { connectForFile, socketMissing, type ConnectOptions } from '../engines/docker/discovery.js';
import { findFlagConflicts, type FlagConflict } from '../daemon/conflicts.js';
import { callCandidates, type UntrustedDockerd } from '../daemon/dockerd-process.js';
import { resolveDockerHost } from '../daemon/endpoint.js';
import { createEngine } from '../daemon/engine.js';
import { findFileReader } from '../daemon/file-reader.js';
import { liveRegistryFromInfo, registryMismatch, type LiveRegistry } from '../daemon/registry-config.js';
import { effectiveOnDisk } from '../engines/docker/certs-d.js';
import { imageStoreOf } from '../engines/docker/containerd-store.js';
import type { EffectiveMirrors } from '../engines/docker/effective-mirrors.js';
import { Journal } from '../state/journal.js';
import { locateTarget } from './options.js';
import { engineMirrors, type EngineMirrors, type EngineSelection } from './mirrors.js';
import { engineTargets } from '../engines/registry.js';
import { registryName } from '../mirror/registry-name.js';

/** The live side of {@link DockmirrorStatus}: what the running daemon says, or why it could not be asked. */
export type DaemonStatus =
  | {
      reachable: true;
      endpoint: string;
      endpointSource: string;
      version: string;
      setup: string;
      logHint: string;
      live: LiveRegistry;
      flagConflicts: FlagConflict[];
      /** dockerd processes that claim the endpoint but were not trusted, with the reason. */
      untrustedDaemons?: UntrustedDockerd[];
      /** A doubt about the endpoint itself (its socket in a folder others can write, owned by another user). */
      trustWarning?: string;
      /** The daemon.json this daemon reads, when it is seen in /proc to read another file than the one shown. */
      readsOtherFile?: string;
      /** `containerd` when `GET /info` shows Docker's containerd image store; absent on the classic store. */
      imageStore?: 'containerd';
      /**
       * On the containerd image store: the docker.io mirrors pulls really use (daemon.json and certs.d merged by
       * moby's rule); `live` is then only daemon.json's view, and says nothing about pulls when `infoIsLive` is false.
       */
      effective?: EffectiveMirrors;
    }
  | { reachable: false; endpoint: string; error: string };

/** Everything `dockmirror status` shows. */
export interface DockmirrorStatus {
  /** The daemon.json in use and why. */
  configFile: string;
  configReason: string;
  /** The setup the file belongs to (from its location). */
  configSetup: string;
  /** Whether the file exists. */
  exists: boolean;
  /** The file's lists ([] when a key is absent), or the reason the file could not be read. */
  file: { mirrors: string[]; insecureRegistries: string[] } | { error: { code: string; message: string } };
  /** The daemon's view. */
  daemon: DaemonStatus;
  /** How the live settings differ from what the file means, when the daemon has not applied it yet; else null. */
  pending: string | null;
  /** The state folder and how many backups it holds. */
  stateDir: string;
  backups: number;
  /** Why the state folder could not be read (another user owns it, a symlink...), when it could not; then `backups` is 0. */
  stateError?: string;
  /** With `engine` or `registry`: each engine's mirrors per registry, or why its files could not be read. */
  engines?: (EngineMirrors | { engine: string; error: { code: string; message: string } })[];
}

/** Options of {@link getStatus}. */
export type StatusOptions = ConnectOptions & EngineSelection;

/**
 * Gathers the file's and the live daemon's view of the mirrors side by side. Reads only, and never throws for
 * an unreadable file or an absent daemon: those are part of the status.
 */
export async function getStatus(options: StatusOptions = {}): Promise<DockmirrorStatus> {
  const engines = options.engine !== undefined || options.registry !== undefined ? await engineViews(options) : undefined;
  // --config-file with another engine names that engine's file, not daemon.json.
  const { configFile: _otherEnginesFile, ...others } = options;
  const dockerOptions = options.engine === undefined || options.engine === 'docker' ? options : others;
  const { located, stateDir } = await locateTarget(dockerOptions);
  let file: DockmirrorStatus['file'];
  let exists = false;
  try {
    const doc = await readDaemonConfig(located.path);
    exists = doc.exists;
    file = { mirrors: doc.mirrors ?? [], insecureRegistries: doc.insecureRegistries ?? [] };
  } catch (error) {
    if (!(error instanceof DockmirrorError)) throw error;
    file = { error: { code: error.code, message: error.message } };
  }
  const daemon = await daemonStatus(dockerOptions, located.path);
  // The live config of a daemon that reads another file says nothing about this one.
  const pending = daemon.reachable && !daemon.readsOtherFile && 'mirrors' in file ? (registryMismatch(daemon.live, file) ?? null) : null;
  const state = await new Journal(stateDir).entries().then(
    (entries) => ({ backups: entries.filter((e) => e.status === 'committed').length }),
    (error: unknown) => {
      if (!(error instanceof DockmirrorError)) throw error;
      return { backups: 0, stateError: error.message };
    },
  );
  return {
    ...(engines ? { engines } : {}),
    configFile: located.path,
    configReason: located.reason,
    configSetup: located.setup,
    exists,
    file,
    daemon,
    pending,
    stateDir,
    ...state,
  };
}

/** Each chosen engine's mirrors per registry; an engine whose files cannot be read says why, and the rest go on. */
async function engineViews(options: StatusOptions): Promise<NonNullable<DockmirrorStatus['engines']>> {
  const registry = options.registry === undefined ? undefined : registryName(options.registry);
  const targets = await engineTargets(options).catch((error: unknown) => {
    if (error instanceof DockmirrorError) return [{ engine: options.engine ?? 'docker', error: { code: error.code, message: error.message } }];
    throw error;
  });
  return Promise.all(
    targets.map((target) =>
      'error' in target
        ? target
        : engineMirrors(target, registry, { askEngine: true }).catch((error: unknown) => {
            if (!(error instanceof DockmirrorError)) throw error;
            return { engine: target.engine, error: { code: error.code, message: error.message } };
          }),
    ),
  );
}

async function daemonStatus(options: ConnectOptions, file: string): Promise<DaemonStatus> {
  try {
    const { connection, absent, reader } = await connectForFile(options, file, 3_000);
    if (!connection) {
      const endpoint = (await resolveDockerHost(options)).endpoint;
      return { reachable: false, endpoint, error: absent ?? `no Docker daemon answers at ${endpoint}` };
    }
    const daemonFile = connection.setup.pid === undefined ? undefined : fileTheDaemonReads(connection.setup, options);
    const other = reader?.pid === connection.setup.pid ? undefined : daemonFile && !sameFile(daemonFile, file) ? daemonFile : undefined;
    const live = await connection.engine.liveRegistry();
    // The store is in the greeting's /info; only the containerd store reads certs.d, so only it costs a read.
    const onContainerdStore = imageStoreOf(connection.info) === 'containerd';
    const effective = onContainerdStore ? await effectiveOnDisk(options, connection.setup.kind === 'rootless', live.mirrors) : undefined;
    return {
      reachable: true,
      endpoint: connection.endpoint,
      endpointSource: connection.endpointSource,
      version: connection.version,
      setup: connection.setup.kind,
      logHint: connection.setup.logHint,
      live,
      ...(effective ? { imageStore: 'containerd' as const, effective } : {}),
      flagConflicts: await findFlagConflicts(connection.setup),
      ...(connection.setup.untrustedDaemons ? { untrustedDaemons: connection.setup.untrustedDaemons } : {}),
      ...(connection.setup.trustWarning ? { trustWarning: connection.setup.trustWarning } : {}),
      ...(other ? { readsOtherFile: other } : {}),
    };
  } catch (error) {
    const endpoint = error instanceof DockmirrorError ? String(error.details?.endpoint ?? '') : '';
    return { reachable: false, endpoint, error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The live registry settings for `mirror list`, cheaply: when the endpoint is a unix socket that does not
 * exist, no client is loaded at all, so listing stays fast on machines without a daemon. On Docker's containerd
 * image store (seen in the same `GET /info`) also what docker.io pulls really use, certs.d merged in.
 */
export async function liveRegistryIfAny(options: ConnectOptions): Promise<{ live: LiveRegistry | { error: string }; effective?: EffectiveMirrors }> {
  const resolved = await resolveDockerHost(options);
  // The same rule as a change: with no endpoint given, the daemon that reads the file is the one asked.
  const reader = resolved.source === 'default' ? await findFileReader((await locateTarget(options)).located.path, { candidates: callCandidates(options) }) : undefined;
  const endpoint = reader?.endpoint ?? resolved.endpoint;
  if (socketMissing(endpoint)) {
    return { live: { error: `no Docker daemon at ${endpoint}` } };
  }
  try {
    const info = await createEngine(endpoint).info(3_000);
    const live = liveRegistryFromInfo(info);
    if (imageStoreOf(info) !== 'containerd') return { live };
    const rootless = (await locateTarget(options)).located.setup === 'rootless';
    return { live, effective: await effectiveOnDisk(options, rootless, live.mirrors) };
  } catch (error) {
    return { live: { error: error instanceof Error ? error.message : String(error) } };
  }
}
