// Kept apart from verify.ts so that importing the package's index does not load the HTTP probes.

/** Default timeout of each HTTP probe. */
export const DEFAULT_PROBE_TIMEOUT_MS = 5000;

/** The note every result carries, because Pyrsia's own docs got it wrong. */
export const ALREADY_EXISTS_NOTE =
  'docker pull\'s "Already exists" means the layer was already in the local store, not that a mirror served it.';
