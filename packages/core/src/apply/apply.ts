import type { DaemonConfigDocument } from '../config/document.js';
import type { MutationOptions } from '../operations/options.js';

/** How the running daemon was told about a change, and what it showed afterwards. */
export interface ApplyReport {
  /** What was done: a reload, a restart, or nothing. */
  method: 'reload' | 'restart' | 'none';
  /** Why this method (or why nothing). */
  reason: string;
}

/** What the apply step needs to know about a change. */
export interface ApplyContext {
  file: string;
  before: DaemonConfigDocument;
  after: DaemonConfigDocument | undefined;
  restore: Buffer | undefined;
  recovering?: boolean;
}

/** The daemon facts gathered before writing, reused after. */
export interface DaemonHandle {
  options: MutationOptions;
}

/** Checks, before anything is written, that the daemon can take the change. */
export async function preflightDaemon(
  options: MutationOptions,
  _context: { file: string; setup: string; before: DaemonConfigDocument; after: DaemonConfigDocument | undefined; newMirrors: string[] },
): Promise<DaemonHandle> {
  return { options };
}

/** Makes the daemon use the file as now written and confirms it did. */
export async function applyToDaemon(handle: DaemonHandle, _context: ApplyContext): Promise<ApplyReport> {
  return { method: 'none', reason: handle.options.apply === 'none' ? '--apply none' : 'not applied yet' };
}
