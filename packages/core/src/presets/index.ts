/**
 * Presets: short names (`pyrsia`, `local`, `gcr`, and the user's own) for mirror URLs, resolved for this machine.
 * @module
 */
export { BUILTIN_PRESETS, type PresetDefinition, type LocalNodePreset, type UrlPreset } from './builtin.js';
export { DIAL_RULES, classifyHost, dialHost, type DialRule, type DialChoice, type EngineKind, type HostClass } from './dial-rules.js';
export { userPresetsPath, pyrsiaCliConfigPath, type PlatformContext } from './paths.js';
export { findPyrsiaAddress, parsePyrsiaConfigShow, PYRSIA_DEFAULT_HOST, PYRSIA_DEFAULT_PORT, type PyrsiaAddress, type FindPyrsiaOptions } from './pyrsia-address.js';
export { resolveMirrorTarget, listPresets, type ResolveOptions, type MirrorTarget, type PresetInfo } from './resolve.js';
export { runCommand, type RunCommand, type RunCommandOptions, type CommandOutput } from './run-command.js';
export { loadUserPresets, parseUserPresets, type UserPreset } from './user-presets.js';
