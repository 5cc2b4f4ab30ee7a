// The journal's digests: @noble/hashes below NATIVE_FROM_BYTES, node:crypto from it on. Both must give the
// digest node:crypto gives, for any bytes and on both sides of the switch, or recovery would judge a file by a
// hash that is not its own.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NATIVE_FROM_BYTES, sha256Hex } from '../../src/support/sha256.js';

const native = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('sha256Hex', () => {
  it('is SHA-256 (the standard test vectors)', () => {
    expect(sha256Hex(Buffer.alloc(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('gives node:crypto\'s digest for any bytes a config file may hold', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => sha256Hex(bytes) === native(bytes)));
  });

  it('gives the same digest on both sides of the switch to node:crypto', () => {
    for (const size of [NATIVE_FROM_BYTES - 1, NATIVE_FROM_BYTES, NATIVE_FROM_BYTES + 1, 1_000_000]) {
      const bytes = Buffer.alloc(size, 0x5a);
      bytes[size >> 1] = 1;
      expect(sha256Hex(bytes), `${size} bytes`).toBe(native(bytes));
    }
  });
});
