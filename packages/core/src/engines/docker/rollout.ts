import { realpathSync } from 'node:fs';
import { modify, applyEdits } from 'jsonc-parser';
import type { DaemonConfigDocument } from '../../config/document.js';
import { locateDaemonConfig } from '../../config/locate.js';
import { writeConfigFile } from '../../config/io.js';
import { ApplyError, DaemonUnreachableError, DockmirrorError, FlagConflictError, InterruptedError, UsageError } from '../../errors.js';
import { daemonTimeoutMs, type MutationOptions } from '../../operations/options.js';
import { applyMethodFor, checkMirrorPathSupport, dockerdMirrorPath, runApply, type ApplyPlan } from '../../daemon/service.js';
import { confirmLive, type ConfirmResult } from '../../daemon/confirm.js';
import { findFlagConflicts } from '../../daemon/conflicts.js';
import { registryMismatch, type LiveRegistry } from '../../daemon/registry-config.js';
import { createEngine, type ReloadWatch } from '../../daemon/engine.js';
import { findFileReader } from '../../daemon/file-reader.js';
import { resolveDockerHost } from '../../daemon/endpoint.js';
import { detectSetup, type DaemonSetup } from '../../daemon/setup.js';
import { samePath } from '../../support/same-path.js';
import { connectForFile, type DaemonConnection, type FileDaemon } from './discovery.js';
import type { EffectiveMirrors } from './effective-mirrors.js';
import { throwIfInterrupted, untilInterrupted } from '../../support/interrupt.js';

/** How the running daemon was told about a change, and what it showed afterwards. */
export interface ApplyReport {
  /** What was done: a reload, a restart, or nothing. */
  method: 'reload' | 'restart' | 'none';
  /** Why this method (or why nothing). */
  reason: string;
  /** The Docker Engine endpoint used. */
  endpoint?: string;
  /** The setup detected (systemd, plain, desktop...). */
  setup?: string;
  /** The live registry settings the daemon reported after applying, from {@link ApplyReport.liveFrom}. */
  live?: LiveRegistry;
  /**
   * Where `live` comes from: the reload event that carried the file's settings (dockerd reports what it has just
   * applied), or `GET /info`.
   */
  liveFrom?: 'reload event' | 'GET /info';
  /** Milliseconds from telling the daemon to seeing the change live. */
  elapsedMs?: number;
  /**
   * On Docker's containerd image store: the docker.io mirrors pulls really use, daemon.json and certs.d merged
   * by moby's rule. `live` is then left out when a hosts.toml decides, since `GET /info` shows daemon.json's view.
   */
  effective?: EffectiveMirrors;
}

/** What the apply step needs to know about a change. */
export interface ApplyContext {
  /** daemon.json, as written. */
  file: string;
  /** The file now on disk (the new bytes, or after a failure the restored old ones). */
  after: DaemonConfigDocument | undefined;
  /** True while putting the old bytes back after a failure. */
  recovering?: boolean;
  /** What the daemon is told about, for messages; default `change` (or `restored file` when recovering). */
  what?: string;
}

/** Daemon facts gathered before writing and reused after, so nothing is asked twice. */
export type DaemonHandle =
  | { kind: 'skip'; reason: string }
  | { kind: 'apply'; options: MutationOptions; connection: DaemonConnection; plan: ApplyPlan };

/**
 * Everything that can be checked before a byte is written: that a daemon answers, that its version accepts
 * the mirrors, that no dockerd flag sets a key the file will set (dockerd would refuse to start), how to apply,
 * and, when that stops containers, that the user agreed. Throws to refuse; nothing has been written then.
 */
export async function preflightDaemon(
  options: MutationOptions,
  context: { file: string; after: DaemonConfigDocument | undefined; newMirrors: string[]; found?: FileDaemon | Promise<FileDaemon> },
): Promise<DaemonHandle> {
  const mode = options.apply ?? 'auto';
  if (mode === 'none') {
    await refuseWithoutTelling(options, context);
    return { kind: 'skip', reason: '--apply none: the daemon was not told' };
  }
  // The call may have asked already (the image store, certs-d.ts), or begun to (warmUp): the same discovery, not
  // a second one.
  const found = await Promise.resolve(context.found ?? connectForFile(options, context.file, daemonTimeoutMs(options))).catch((error: unknown) => {
    if (error instanceof DockmirrorError && !(error instanceof InterruptedError) && !/Nothing was written\.$/.test(error.message)) {
      Object.assign(error, { message: `${error.message} Nothing was written.` });
    }
    throw error;
  });
  const { connection, reader } = found;
  if (!connection) {
    if (mode !== 'auto') {
      throw new DaemonUnreachableError(`No Docker daemon answers: ${found.absent ?? 'none was found'}. Nothing was written.`, {
        hint: 'Start Docker, or point --docker-host / DOCKER_HOST at the running daemon, or pass --apply none.',
      });
    }
    // A stopped daemon still has its unit and defaults files: a conflict there would stop its next start.
    await refuseConflictsWithoutClient(options, context);
    return { kind: 'skip', reason: `${found.absent ?? 'no Docker daemon answered'}; the change takes effect when Docker starts` };
  }
  const { setup } = connection;
  if (reader && setup.pid !== undefined && setup.pid !== reader.pid) {
    throw new UsageError(
      `dockerd (pid ${reader.pid}) reads ${context.file}, but ${connection.endpoint} is another daemon (pid ${setup.pid}). Nothing was written.`,
      {
        hint: `Tell the daemon that reads the file: --docker-host ${reader.endpoint ?? reader.hosts[0] ?? '<its socket>'}.`,
        details: { pid: reader.pid, endpoint: connection.endpoint, otherPid: setup.pid },
      },
    );
  }
  for (const mirror of context.newMirrors) checkMirrorPathSupport(connection.version, mirror);
  // Only a daemon seen in /proc is known to read another file; an unseen one gets the benefit of the doubt.
  const daemonFile = setup.pid === undefined && setup.engineFile === undefined ? undefined : fileTheDaemonReads(setup, options);
  if (daemonFile && !sameFile(daemonFile, context.file)) {
    // A desktop or VM engine that reads another file would never see this one: refuse rather than write it.
    if (mode === 'auto' && setup.engineFile === undefined) {
      return { kind: 'skip', reason: `the daemon at ${connection.endpoint} reads ${daemonFile}, not this file; it was not told` };
    }
    throw new UsageError(`The daemon at ${connection.endpoint} reads ${daemonFile}, not ${context.file}. Nothing was written.`, {
      hint: `Edit the daemon's file with --config-file ${daemonFile}, or pass --apply none.`,
    });
  }
  await refuseFlagConflicts(setup, context.after);
  const plan = applyMethodFor(setup, mode);
  if (plan.stopsContainers) await agreeToRestart(options, connection, plan);
  return { kind: 'apply', options, connection, plan };
}

/**
 * What can be refused without telling the daemon (`--apply none`, a dry run): a dockerd flag that sets a key the
 * file will set, and, when the dockerd that reads the file answers, a mirror its version rejects (a path mirror
 * before 25.0), which it would refuse at its next reload or start.
 */
export async function refuseWithoutTelling(
  options: MutationOptions,
  context: { file: string; after: DaemonConfigDocument | undefined; newMirrors: string[] },
): Promise<void> {
  await refuseConflictsWithoutClient(options, context);
  const paths = context.newMirrors.filter((m) => dockerdMirrorPath(m) !== undefined);
  if (paths.length === 0) return;
  const reader = await findFileReader(context.file);
  if (!reader?.endpoint) return;
  const engine = createEngine(reader.endpoint);
  const probeMs = Math.min(daemonTimeoutMs(options), 5_000);
  if (!(await untilInterrupted(engine.ping(probeMs), options.signal))) return;
  const version = await untilInterrupted(engine.version(probeMs), options.signal).catch(() => undefined);
  if (!version) return;
  for (const mirror of paths) {
    try {
      checkMirrorPathSupport(version.Version, mirror);
    } catch (error) {
      if (error instanceof DockmirrorError) {
        Object.assign(error, { message: `${error.message} (the version of dockerd pid ${reader.pid}, which reads ${context.file}). Nothing was written.` });
      }
      throw error;
    }
  }
}

/**
 * Makes the daemon use the file as now written and proves it from `GET /info`. A reload only applies keys
 * present in the file, so when a key is absent (after `remove`'s last mirror, or a rollback to a file without
 * it) the file is briefly written with that key as `[]`, reloaded, and then given back its exact bytes: the
 * daemon ends up matching the file's meaning, and the file keeps the bytes rollback promised.
 */
export async function applyToDaemon(handle: DaemonHandle, context: ApplyContext): Promise<ApplyReport> {
  if (handle.kind === 'skip') return { method: 'none', reason: handle.reason };
  const { connection, plan, options } = handle;
  const timeoutMs = daemonTimeoutMs(options);
  const expected = {
    mirrors: context.after?.mirrors ?? [],
    insecureRegistries: context.after?.insecureRegistries ?? [],
  };
  const spelledOut = plan.method === 'reload' ? withEmptyKeys(context.after) : undefined;
  const what = context.what ?? (context.recovering ? 'restored file' : 'change');
  let told = false;
  // Subscribed before the SIGHUP: dockerd emits `reload` only for a reload it took, so its absence after a short
  // grace, with the live config still not what the file says, is a refusal, known without waiting the timeout.
  // The subscription's handshake and the spelled-out write run side by side; both are done before the SIGHUP.
  const watching = plan.method === 'reload' ? connection.engine.watchReloads(timeoutMs + RELOAD_GRACE_MS).catch(() => undefined) : undefined;
  let watch: ReloadWatch | undefined;
  try {
    if (spelledOut) await writeConfigFile(context.file, spelledOut);
    watch = await watching;
    options.onProgress?.(`${plan.method === 'reload' ? 'Reloading' : 'Restarting'} the Docker daemon (${plan.why})`);
    throwIfInterrupted(options.signal);
    const started = Date.now();
    told = true;
    await untilInterrupted(runApply(plan, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) }), options.signal);
    let waitMs = timeoutMs;
    let reported: LiveRegistry | undefined;
    if (watch) {
      const graceMs = Math.min(RELOAD_GRACE_MS, timeoutMs);
      const took = await untilInterrupted(watch.reloaded(graceMs), options.signal);
      if (took) {
        // The reload is done once its event is out: what /info shows then is final, so no long wait is needed.
        waitMs = graceMs;
        // The event carries the settings dockerd has just applied. When they are the file's, that is the proof,
        // and the GET /info after it is spared (dockerd 20.10 works out its whole /info for it, ~8 ms here).
        // Any other report (an older daemon's event without them, a reload of other bytes) is for /info to settle.
        const fromEvent = watch.reported();
        if (fromEvent && registryMismatch(fromEvent, expected) === undefined) reported = fromEvent;
      } else {
        // A daemon that stopped answering is for confirmLive to report (it waits for it to come back).
        const live = await untilInterrupted(connection.engine.liveRegistry(Math.min(5_000, timeoutMs)), options.signal).catch((error: unknown) => {
          if (error instanceof DaemonUnreachableError) return undefined;
          throw error;
        });
        const mismatch = live ? registryMismatch(live, expected) : undefined;
        if (mismatch !== undefined) {
          throw new ApplyError(
            `The Docker daemon did not take the ${what}: ${mismatch}. It sent no reload event within ${graceMs / 1000} s: it refused the reload.`,
            { details: { live: live ?? null, expected, mismatch, reloadEvent: false } },
          );
        }
      }
    }
    const confirmed: Omit<ConfirmResult, 'elapsedMs'> = reported
      ? { ok: true, live: reported }
      : await untilInterrupted(
          confirmLive(connection.engine, expected, waitMs, {
            onTick: (elapsed) => options.onProgress?.(`Waiting for the daemon to show the change (${Math.round(elapsed / 1000)} s)`),
          }),
          options.signal,
        );
    if (!confirmed.ok) {
      throw new ApplyError(`The Docker daemon did not take the ${what}: ${confirmed.mismatch}.`, {
        details: { live: confirmed.live ?? null, expected, mismatch: confirmed.mismatch },
      });
    }
    return {
      method: plan.method,
      reason: plan.why,
      endpoint: connection.endpoint,
      setup: connection.setup.kind,
      ...(confirmed.live ? { live: confirmed.live, liveFrom: reported ? 'reload event' : 'GET /info' } : {}),
      elapsedMs: Date.now() - started,
    };
  } catch (error) {
    if (error instanceof InterruptedError) {
      throw Object.assign(error, { details: { ...error.details, daemon: told ? `was sent a ${plan.method} but not yet seen to take it` : 'was not told' } });
    }
    throw asApplyError(error, connection);
  } finally {
    // A failed spelled-out write leaves the subscription unclaimed: it is closed all the same.
    (watch ?? (await watching))?.close();
    if (spelledOut) await writeConfigFile(context.file, context.after?.exists ? context.after.bytes : undefined);
  }
}

/**
 * How long after a SIGHUP a reload event may take before the reload counts as refused. dockerd 20.10 here
 * emits it within a few ms (it validates and applies the file synchronously in its signal handler's goroutine);
 * 3 s leaves room for a loaded machine and is still far below the default 60 s `--timeout`.
 */
export const RELOAD_GRACE_MS = 3_000;

/**
 * Any failure once the daemon is being told is an apply failure (exit 5, and the caller restores and re-applies),
 * and every one of them says where the daemon's log is.
 */
function asApplyError(error: unknown, connection: DaemonConnection): ApplyError {
  const log = `Look at the daemon's log: ${connection.setup.logHint}`;
  const facts = { logHint: connection.setup.logHint, endpoint: connection.endpoint };
  if (error instanceof ApplyError) {
    return Object.assign(error, { hint: error.hint ? `${error.hint} ${log}` : log, details: { ...error.details, ...facts } });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ApplyError(`Applying the change failed: ${message}`, { cause: error, hint: log, details: facts });
}

/** The file's bytes with every absent mirror key spelled out as `[]`; `undefined` when none is absent. */
function withEmptyKeys(doc: DaemonConfigDocument | undefined): Buffer | undefined {
  let text = doc && doc.text.trim() !== '' ? doc.text : '{}';
  const absent = (['registry-mirrors', 'insecure-registries'] as const).filter((key) =>
    key === 'registry-mirrors' ? doc?.mirrors === undefined : doc?.insecureRegistries === undefined,
  );
  if (absent.length === 0) return undefined;
  for (const key of absent) text = applyEdits(text, modify(text, [key], [], {}));
  return Buffer.from(text, 'utf8');
}

/**
 * `--apply none` (or a dry run) does not talk to the daemon, but is still no reason to write a file the daemon
 * would refuse at its next start. The dockerd process is found in /proc (no client loaded); its flags count when it reads this
 * file: its `--config-file` is this file, or it has none and this file was not named explicitly.
 */
export async function refuseConflictsWithoutClient(
  options: MutationOptions,
  context: { file: string; after: DaemonConfigDocument | undefined },
): Promise<void> {
  const { endpoint } = await resolveDockerHost(options).catch(() => ({ endpoint: '' }));
  if (!endpoint) return;
  const setup = await detectSetup({ endpoint, ...(options.env ? { env: options.env } : {}), ...(options.platform ? { platform: options.platform } : {}) });
  const daemonFile = fileTheDaemonReads(setup, options);
  if (daemonFile && sameFile(daemonFile, context.file)) await refuseFlagConflicts(setup, context.after);
}

/**
 * The daemon.json the daemon behind the endpoint reads: its `--config-file`, else its setup's default (never
 * what the user pointed dockmirror at). `undefined` when the setup is unknown.
 */
export function fileTheDaemonReads(setup: DaemonSetup, options: Pick<MutationOptions, 'env' | 'platform' | 'homedir'>): string | undefined {
  if (setup.configFile) return setup.configFile;
  if (setup.engineFile) return setup.engineFile;
  if (setup.engine) return undefined; // Colima, Rancher Desktop: no file here is read.
  if (setup.kind === 'unknown') return undefined;
  const { DOCKMIRROR_CONFIG_FILE: _ignored, ...env } = options.env ?? process.env;
  return locateDaemonConfig({
    env,
    ...(options.platform ? { platform: options.platform } : {}),
    ...(options.homedir ? { homedir: options.homedir } : {}),
    ...(setup.kind === 'desktop' || setup.kind === 'rootless' ? { daemonKind: setup.kind } : {}),
  }).path;
}

async function refuseFlagConflicts(setup: DaemonSetup, after: DaemonConfigDocument | undefined): Promise<void> {
  const inFile = new Set<string>();
  if (after?.mirrors !== undefined) inFile.add('registry-mirrors');
  if (after?.insecureRegistries !== undefined) inFile.add('insecure-registries');
  const conflict = (await findFlagConflicts(setup)).find((c) => inFile.has(c.key));
  if (!conflict) return;
  throw new FlagConflictError(
    `dockerd already gets ${conflict.flag} ${conflict.values.join(' ')} from ${conflict.source}; with "${conflict.key}" also in daemon.json it would refuse to start. Nothing was written.`,
    {
      hint: `Remove ${conflict.flag} from ${conflict.source} and restart Docker, then run dockmirror again.`,
      details: { conflict },
    },
  );
}

async function agreeToRestart(options: MutationOptions, connection: DaemonConnection, plan: ApplyPlan): Promise<void> {
  if (options.yes) return;
  // Not knowing what runs is no licence to stop it: an unlistable daemon is asked about like a busy one.
  const running = await connection.engine.listRunningContainers().catch(() => undefined);
  if (running?.length === 0) return;
  const what = running
    ? `${running.length} running container(s): ${running.map((c) => c.names[0] ?? c.id.slice(0, 12)).join(', ')}`
    : 'every running container (they could not be listed)';
  const question = `Applying needs a restart (${plan.why}) that stops ${what}. Continue?`;
  if (options.confirm && (await options.confirm(question))) return;
  throw new UsageError(`Not applied: a restart would stop ${what}. Nothing was written.`, {
    hint: 'Run again with --yes to allow the restart, or --apply none and restart Docker yourself later.',
  });
}

/** Whether two paths name the same file once symlinks are resolved (a missing one compares as written). */
export function sameFile(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  return samePath(real(a), real(b));
}
