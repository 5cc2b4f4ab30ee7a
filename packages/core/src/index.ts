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

export * from './errors.js';
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
export type { VerifyMirrorOptions, VerifyReport } from './operations/verify.js';
export type { ShowPresetsOptions, PresetsReport } from './operations/presets.js';
export type { DoctorReport, DoctorFinding } from './operations/doctor.js';
export { ALREADY_EXISTS_NOTE, DEFAULT_PROBE_TIMEOUT_MS } from './verify/constants.js';
export type { Check, CheckName, Proof, VerifyResult } from './verify/index.js';

/**
 * Reads and strictly parses daemon.json. A missing file reads as `{}`; a directory, device or other non-regular
 * file is refused. Permission problems become {@link PermissionDeniedError}.
 */
export function readDaemonConfig(...args: Parameters<typeof io.readDaemonConfig>): ReturnType<typeof io.readDaemonConfig> {
  return import('./config/io.js').then((m) => m.readDaemonConfig(...args));
}

/**
 * Adds a registry mirror to daemon.json, plus an `insecure-registries` entry for an http:// mirror, touching no
 * other byte. A mirror already present (in normalised form) changes nothing.
 */
export function addMirror(...args: Parameters<typeof mirrors.addMirror>): ReturnType<typeof mirrors.addMirror> {
  return import('./operations/mirrors.js').then((m) => m.addMirror(...args));
}

/**
 * Removes a registry mirror from daemon.json. Its `insecure-registries` entry goes too, but only when
 * dockmirror added it and no remaining mirror uses that host; an entry the user had before stays.
 */
export function removeMirror(...args: Parameters<typeof mirrors.removeMirror>): ReturnType<typeof mirrors.removeMirror> {
  return import('./operations/mirrors.js').then((m) => m.removeMirror(...args));
}

/** Lists the mirrors and insecure registries in daemon.json, beside the live daemon's. Reads only; no lock. */
export function listMirrors(...args: Parameters<typeof mirrors.listMirrors>): ReturnType<typeof mirrors.listMirrors> {
  return import('./operations/mirrors.js').then((m) => m.listMirrors(...args));
}

/**
 * Turns a preset name or a mirror URL into the URL to write. Anything containing `://` is a URL; any other input
 * must name a built-in or user preset, else {@link UsageError} listing the presets.
 */
export function resolveMirrorTarget(
  ...args: Parameters<typeof presets.resolveMirrorTarget>
): ReturnType<typeof presets.resolveMirrorTarget> {
  return import('./presets/resolve.js').then((m) => m.resolveMirrorTarget(...args));
}

/** Lists every preset (built-in first, then user) with the URL it resolves to here. */
export function listPresets(...args: Parameters<typeof presets.listPresets>): ReturnType<typeof presets.listPresets> {
  return import('./presets/resolve.js').then((m) => m.listPresets(...args));
}

/**
 * Restores daemon.json byte for byte as it was before the most recent dockmirror change (or before change
 * `id`); a file that did not exist is removed. Refuses with {@link DriftError} when the file changed since
 * dockmirror wrote it, unless `force`. The rollback is journaled itself, so it can be rolled back too.
 */
export function rollback(...args: Parameters<typeof rollbackOp.rollback>): ReturnType<typeof rollbackOp.rollback> {
  return import('./operations/rollback.js').then((m) => m.rollback(...args));
}

/**
 * Makes the daemon that reads daemon.json load what the file says now, confirmed live by `GET /info`; the file
 * is not changed. A key the file does not have means `[]` live.
 */
export function applyConfig(...args: Parameters<typeof applyOp.applyConfig>): ReturnType<typeof applyOp.applyConfig> {
  return import('./operations/apply-config.js').then((m) => m.applyConfig(...args));
}

/** Lists the backups in the state folder, newest first, an interrupted (pending) change among them. Reads only. */
export function listBackups(...args: Parameters<typeof rollbackOp.listBackups>): ReturnType<typeof rollbackOp.listBackups> {
  return import('./operations/rollback.js').then((m) => m.listBackups(...args));
}

/**
 * Gathers the file's and the live daemon's view of the mirrors side by side. Reads only, and never throws for
 * an unreadable file or an absent daemon: those are part of the status.
 */
export function getStatus(...args: Parameters<typeof status.getStatus>): ReturnType<typeof status.getStatus> {
  return import('./operations/status.js').then((m) => m.getStatus(...args));
}

/**
 * Proves mirrors work (`dockmirror mirror verify`): reads daemon.json, asks the daemon once for its live
 * settings, then checks each mirror concurrently (config, live, api, image, pull). A failed check is part of the
 * report, not an exception; only bad input throws ({@link UsageError}, {@link InvalidMirrorError}), or a
 * {@link VerificationError} when there is no mirror to verify.
 */
export function verifyMirror(...args: Parameters<typeof verify.verifyMirror>): ReturnType<typeof verify.verifyMirror> {
  return import('./operations/verify.js').then((m) => m.verifyMirror(...args));
}

/** Lists the presets as `add <preset>` would resolve them on this machine. Reads only. */
export function showPresets(...args: Parameters<typeof presetsOp.showPresets>): ReturnType<typeof presetsOp.showPresets> {
  return import('./operations/presets.js').then((m) => m.showPresets(...args));
}

/**
 * `dockmirror doctor`: status plus verification of every configured mirror, turned into a list of problems and
 * fixes. Reads only; never changes daemon.json or the daemon.
 */
export function runDoctor(...args: Parameters<typeof doctor.runDoctor>): ReturnType<typeof doctor.runDoctor> {
  return import('./operations/doctor.js').then((m) => m.runDoctor(...args));
}
