/**
 * `@dockmirror/core`: every behaviour of dockmirror, with no printing and no exiting. Importing it does no I/O.
 * @packageDocumentation
 */
export * from './errors.js';
export { locateDaemonConfig, type ConfigSetup, type LocateOptions, type LocatedConfig } from './config/locate.js';
export { parseDaemonConfig, type DaemonConfigDocument } from './config/document.js';
export { readDaemonConfig } from './config/io.js';
export { validateMirror, normalizeMirror, type ValidatedMirror, type ValidateMirrorOptions } from './mirror/url.js';
export type { ApplyMode, CommonOptions, MutationOptions } from './operations/options.js';
export type { ChangeResult } from './operations/transaction.js';
export type { ApplyReport } from './apply/apply.js';
export {
  addMirror,
  removeMirror,
  listMirrors,
  type AddMirrorOptions,
  type RemoveMirrorOptions,
  type MirrorList,
  type ListMirrorsOptions,
  type PresetAddressOptions,
} from './operations/mirrors.js';
export { resolveMirrorTarget, listPresets, type MirrorTarget, type PresetInfo, type ResolveOptions } from './presets/index.js';
export { rollback, listBackups, type RollbackOptions, type BackupInfo } from './operations/rollback.js';
export { getStatus, type DockmirrorStatus, type DaemonStatus } from './operations/status.js';
export type { ConnectOptions } from './apply/connect.js';
export type { LiveRegistry } from './daemon/registry-config.js';
export type { FlagConflict } from './daemon/conflicts.js';
export { verifyMirror, type VerifyMirrorOptions, type VerifyReport } from './operations/verify.js';
export { showPresets, type ShowPresetsOptions, type PresetsReport } from './operations/presets.js';
export { ALREADY_EXISTS_NOTE, DEFAULT_PROBE_TIMEOUT_MS, type Check, type CheckName, type VerifyResult } from './verify/index.js';
