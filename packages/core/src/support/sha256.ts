/**
 * dockmirror's one SHA-256: the journal's digests of config files, the folder a docker context's name is stored
 * under, a manifest's digest. Loading `node:crypto` costs about 10 ms of every `mirror add` and `mirror remove`
 * here, more than all of their hashing: a config file is a few hundred bytes, a context name a few.
 * Those are hashed by @noble/hashes (audited, dependency-free, plain JavaScript, well under a millisecond for
 * them); a large file by `node:crypto`, which is then worth its load (noble takes ~20 ms for 1 MB, native ~2).
 * Both are SHA-256: the same bytes give the same digest whichever hashed them (test/state/sha256.test.ts).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/** Inputs smaller than this are hashed in JavaScript; this size and larger ones by node:crypto. */
// Stryker disable next-line ArithmeticOperator: any threshold gives the same digests; only the time differs
export const NATIVE_FROM_BYTES = 64 * 1024;

/** The lowercase hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  // Stryker disable next-line ConditionalExpression,EqualityOperator: either way is SHA-256, so no digest differs; that a small file does not load node:crypto is pinned by apps/cli/test/startup-cli.test.ts, which Stryker does not run
  if (bytes.length < NATIVE_FROM_BYTES) return bytesToHex(sha256(bytes));
  const { createHash } = process.getBuiltinModule('node:crypto');
  return createHash('sha256').update(bytes).digest('hex');
}
