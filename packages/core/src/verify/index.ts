/**
 * Verification: prove a registry mirror is configured, live, answering, serving images and used by the daemon.
 * @module
 */
export { checkMirror, DEFAULT_PROBE_TIMEOUT_MS, ALREADY_EXISTS_NOTE } from './verify.js';
export type { Check, CheckName, Proof, VerifyResult, CheckMirrorOptions, MirrorLists, PullEngine, PulledImage } from './types.js';
export { attributePlainPull, type Attribution, type AttributionInputs, type EarlierMirror, type MirrorEvidence } from './pull-source.js';
export { countImageRequests, readImageRequestCount, type CounterReading } from './mirror-counters.js';
export { parseImageRef, type ImageRef } from './image-ref.js';
export { insecureCoverage, mirrorPosition } from './insecure.js';
export { MANIFEST_ACCEPT } from './check-image.js';
export { inspectPyrsiaLog, type InspectLog } from './pyrsia-inspect.js';
