/**
 * `@dockmirror/core`: every behaviour of dockmirror, with no printing and no exiting. Importing it does no I/O.
 *
 * Importing it is also cheap: errors, locating, parsing and mirror validation load at once; each operation
 * loads its modules (journal, atomic writes, daemon client, HTTP probes) on its first call, so a program that
 * only lists mirrors never pays for verify or apply.
 * @packageDocumentation
 */
import type * as applyOp from './operations/apply-config.js';
import type * as io from './config/io.js';
import type * as doctor from './operations/doctor.js';
import type * as mirrors from './operations/mirrors.js';
import type * as presetsOp from './operations/presets.js';
import type * as rollbackOp from './operations/rollback.js';
import type * as status from './operations/status.js';
import type * as verify from './operations/verify.js';
import type * as presets from './presets/resolve.js';
import { checkOptions, type TimeoutInSeconds } from './operations/validate.js';
import { UsageError } from './errors.js';

export * from './errors.js';
export type { TimeoutInSeconds } from './operations/validate.js';
export { locateDaemonConfig, type ConfigSetup, type LocateOptions, type LocatedConfig } from './config/locate.js';
export { parseDaemonConfig, type DaemonConfigDocument } from './config/document.js';
export { validateMirror, normalizeMirror, type ValidatedMirror, type ValidateMirrorOptions } from './mirror/url.js';
export type { ApplyMode, CommonOptions, MutationOptions } from './operations/options.js';
export type { ChangeResult, EngineChange } from './change/pipeline.js';
export type { EngineId, RegistrySettings, RegistryMirror } from './engines/engine.js';
export type { EngineChoice } from './engines/registry.js';
export type { ApplyReport } from './engines/docker/rollout.js';
export type {
  AddMirrorOptions,
  RemoveMirrorOptions,
  MirrorList,
  EngineMirrors,
  EngineSelection,
  ListMirrorsOptions,
  PresetAddressOptions,
} from './operations/mirrors.js';
export type { MirrorTarget, PresetInfo, ResolveOptions } from './presets/index.js';
export type { RollbackOptions, BackupInfo } from './operations/rollback.js';
export type { ApplyConfigOptions } from './operations/apply-config.js';
export type { DockmirrorStatus, DaemonStatus, StatusOptions } from './operations/status.js';
export type { ConnectOptions } from './engines/docker/discovery.js';
export type { LiveRegistry } from './daemon/registry-config.js';
export type { FlagConflict } from './daemon/conflicts.js';
export type { UntrustedDockerd } from './daemon/dockerd-process.js';
export type { EngineVerifyReport, VerifyMirrorOptions, VerifyReport } from './operations/verify.js';
export type { ShowPresetsOptions, PresetsReport } from './operations/presets.js';
export type { DoctorReport, DoctorFinding } from './operations/doctor.js';
export { ALREADY_EXISTS_NOTE, DEFAULT_PROBE_TIMEOUT_MS } from './verify/constants.js';
export type { Check, CheckName, Proof, VerifyResult } from './verify/index.js';

/**
 * Reads and strictly parses daemon.json. A missing file reads as `{}`; a directory, device or other non-regular
 * file is refused. Permission problems become {@link PermissionDeniedError}.
 */
export async function readDaemonConfig(file: string): ReturnType<typeof io.readDaemonConfig> {
  if (typeof file !== 'string' || file === '') throw new UsageError(`readDaemonConfig() takes the path of daemon.json, not ${file === '' ? 'an empty string' : typeof file}.`);
  return (await import('./config/io.js')).readDaemonConfig(file);
}

/**
 * Adds a registry mirror to daemon.json, plus an `insecure-registries` entry for an http:// mirror, touching no
 * other byte. A mirror already present (in normalised form) changes nothing.
 */
export async function addMirror(options: Parameters<typeof mirrors.addMirror>[0] & TimeoutInSeconds): ReturnType<typeof mirrors.addMirror> {
  const checked = checkOptions('addMirror', options);
  return (await import('./operations/mirrors.js')).addMirror(checked);
}

/**
 * Removes a registry mirror from daemon.json. Its `insecure-registries` entry goes too, but only when
 * dockmirror added it and no remaining mirror uses that host; an entry the user had before stays.
 */
export async function removeMirror(options: Parameters<typeof mirrors.removeMirror>[0] & TimeoutInSeconds): ReturnType<typeof mirrors.removeMirror> {
  const checked = checkOptions('removeMirror', options);
  return (await import('./operations/mirrors.js')).removeMirror(checked);
}

/** Lists the mirrors and insecure registries in daemon.json, beside the live daemon's. Reads only; no lock. */
export async function listMirrors(options?: Parameters<typeof mirrors.listMirrors>[0]): ReturnType<typeof mirrors.listMirrors> {
  const checked = checkOptions('listMirrors', options);
  return (await import('./operations/mirrors.js')).listMirrors(checked);
}

/**
 * Turns a preset name or a mirror URL into the URL to write. Anything containing `://` is a URL; any other input
 * must name a built-in or user preset, else {@link UsageError} listing the presets.
 */
export async function resolveMirrorTarget(input: string, options?: Parameters<typeof presets.resolveMirrorTarget>[1]): ReturnType<typeof presets.resolveMirrorTarget> {
  if (typeof input !== 'string') throw new UsageError(`resolveMirrorTarget() takes a mirror URL or preset name as a string, not ${typeof input}.`);
  const checked = checkOptions('resolveMirrorTarget', options);
  return (await import('./presets/resolve.js')).resolveMirrorTarget(input, checked);
}

/** Lists every preset (built-in first, then user) with the URL it resolves to here. */
export async function listPresets(options?: Parameters<typeof presets.listPresets>[0]): ReturnType<typeof presets.listPresets> {
  const checked = checkOptions('listPresets', options);
  return (await import('./presets/resolve.js')).listPresets(checked);
}

/**
 * Restores daemon.json byte for byte as it was before the most recent dockmirror change (or before change
 * `id`); a file that did not exist is removed. Refuses with {@link DriftError} when the file changed since
 * dockmirror wrote it, unless `force`. The rollback is journaled itself, so it can be rolled back too.
 */
export async function rollback(options?: Parameters<typeof rollbackOp.rollback>[0] & TimeoutInSeconds): ReturnType<typeof rollbackOp.rollback> {
  const checked = checkOptions('rollback', options);
  return (await import('./operations/rollback.js')).rollback(checked);
}

/**
 * Makes the daemon that reads daemon.json load what the file says now, confirmed live by `GET /info`; the file
 * is not changed. A key the file does not have means `[]` live.
 */
export async function applyConfig(options?: Parameters<typeof applyOp.applyConfig>[0] & TimeoutInSeconds): ReturnType<typeof applyOp.applyConfig> {
  const checked = checkOptions('applyConfig', options);
  return (await import('./operations/apply-config.js')).applyConfig(checked);
}

/** Lists the backups in the state folder, newest first, an interrupted (pending) change among them. Reads only. */
export async function listBackups(options?: Parameters<typeof rollbackOp.listBackups>[0]): ReturnType<typeof rollbackOp.listBackups> {
  const checked = checkOptions('listBackups', options);
  return (await import('./operations/rollback.js')).listBackups(checked);
}

/**
 * Gathers the file's and the live daemon's view of the mirrors side by side. Reads only, and never throws for
 * an unreadable file or an absent daemon: those are part of the status.
 */
export async function getStatus(options?: Parameters<typeof status.getStatus>[0]): ReturnType<typeof status.getStatus> {
  const checked = checkOptions('getStatus', options);
  return (await import('./operations/status.js')).getStatus(checked);
}

/**
 * Proves mirrors work (`dockmirror mirror verify`): reads daemon.json, asks the daemon once for its live
 * settings, then checks each mirror concurrently (config, live, api, image, pull). A failed check is part of the
 * report, not an exception; only bad input throws ({@link UsageError}, {@link InvalidMirrorError}), or a
 * {@link VerificationError} when there is no mirror to verify.
 */
export async function verifyMirror(options?: Parameters<typeof verify.verifyMirror>[0] & TimeoutInSeconds): ReturnType<typeof verify.verifyMirror> {
  const checked = checkOptions('verifyMirror', options);
  return (await import('./operations/verify.js')).verifyMirror(checked);
}

/** Lists the presets as `add <preset>` would resolve them on this machine. Reads only. */
export async function showPresets(options?: Parameters<typeof presetsOp.showPresets>[0]): ReturnType<typeof presetsOp.showPresets> {
  const checked = checkOptions('showPresets', options);
  return (await import('./operations/presets.js')).showPresets(checked);
}

/**
 * `dockmirror doctor`: status plus verification of every configured mirror, turned into a list of problems and
 * fixes. Reads only; never changes daemon.json or the daemon.
 */
export async function runDoctor(options?: Parameters<typeof doctor.runDoctor>[0] & TimeoutInSeconds): ReturnType<typeof doctor.runDoctor> {
  const checked = checkOptions('runDoctor', options);
  return (await import('./operations/doctor.js')).runDoctor(checked);
}
