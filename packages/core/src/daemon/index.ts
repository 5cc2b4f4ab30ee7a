/**
 * The daemon module: which daemon, how it is run, how to make it apply daemon.json, and proof that it did.
 * Re-exported from the package entry point by whoever owns it.
 */
export * from './endpoint.js';
export * from './engine.js';
export * from './registry-config.js';
export * from './setup.js';
export * from './conflicts.js';
export * from './apply.js';
export * from './confirm.js';
export { findDockerdProcess, flagValues, hostMatches, daemonHosts, type DockerdProcess } from './dockerd-process.js';
