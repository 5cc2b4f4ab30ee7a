/**
 * Which `insecure-registries` entries are dockmirror's. One rule, shared by `mirror list`, `mirror remove` and
 * `status`: an entry is dockmirror's when the file holds it exactly as dockmirror wrote it (as recorded in the
 * journal). An entry the user rewrote by hand, even to something that means the same host (other case, an
 * `http://` prefix, a CIDR), is the user's: dockmirror neither marks nor removes it.
 * @module
 */
import { normalizeInsecureEntry } from './url.js';

/**
 * The entries of `inFile` that dockmirror owns, given what its journal recorded as written by it (`recorded`,
 * the last committed entry's `owned`). Compared byte for byte, never normalised.
 */
export function ownedInsecureEntries(recorded: readonly string[], inFile: readonly string[]): string[] {
  const file = new Set(inFile);
  return [...new Set(recorded)].filter((entry) => file.has(entry));
}

/** The part of the journal {@link ownedInsecureNow} reads. */
export interface OwnershipJournal {
  /** The committed changes of `file`, oldest first. */
  committed(file: string): Promise<readonly { owned: readonly string[] }[]>;
}

/** {@link ownedInsecureEntries} for a daemon.json as read: its journal's last record against its entries now. */
export async function ownedInsecureNow(journal: OwnershipJournal, doc: { file: string; insecureRegistries?: readonly string[] | undefined }): Promise<string[]> {
  const recorded = (await journal.committed(doc.file)).at(-1)?.owned ?? [];
  return ownedInsecureEntries(recorded, doc.insecureRegistries ?? []);
}

/**
 * The entries dockmirror recorded as written that the file still lists in any spelling (compared normalised):
 * what a change's planner starts from. It is not ownership ({@link ownedInsecureEntries} decides that, byte for
 * byte), but it lets `remove` see that an entry it added was rewritten by hand, and say it keeps it.
 */
export async function recordedInsecureStillListed(journal: OwnershipJournal, doc: { file: string; insecureRegistries?: readonly string[] | undefined }): Promise<string[]> {
  const recorded = (await journal.committed(doc.file)).at(-1)?.owned ?? [];
  const inFile = new Set((doc.insecureRegistries ?? []).map(normalizeInsecureEntry));
  return recorded.filter((entry) => inFile.has(normalizeInsecureEntry(entry)));
}
