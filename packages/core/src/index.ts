/**
 * `@dockmirror/core`: every behaviour of dockmirror, with no printing and no exiting.
 * @packageDocumentation
 */
export * from './errors.js';
