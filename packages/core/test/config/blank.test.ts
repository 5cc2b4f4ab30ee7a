// An emptied config file is waited for and refused rather than edited as empty (change/pipeline.ts). Whether a
// file is empty is told from its bytes (support/text.ts) at the first printable ASCII byte, without decoding it:
// that must agree with decoding and trimming for every input, Unicode spaces, a BOM and broken UTF-8 included.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blank } from '../../src/support/text.js';

/** What "empty" meant before: the file decoded, its BOM dropped and trimmed. */
const decodedBlank = (bytes: Buffer): boolean => bytes.toString('utf8').replace(/^\uFEFF/, '').trim() === '';

describe('blank', () => {
  it('agrees with decoding and trimming on any bytes, whitespace-heavy ones most of all', () => {
    const spaces = ['', ' ', '\t', '\n', '\r\n', '\u00a0', '\u2028', '\u3000', '\ufeff', '\u200b', '\u0085', '\v', '\f'];
    const piece = fc.oneof(
      fc.constantFrom(...spaces).map((s) => Buffer.from(s)),
      fc.uint8Array({ maxLength: 4 }).map((b) => Buffer.from(b)),
      fc.constantFrom('{', '}', 'x', '\u00e9').map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const bytes = Buffer.concat(pieces);
        expect(blank(bytes)).toBe(decodedBlank(bytes));
      }),
      { numRuns: 2_000 },
    );
  });

  it('tells the usual cases', () => {
    expect(blank(Buffer.alloc(0))).toBe(true);
    expect(blank(Buffer.from('\ufeff \n\t\u00a0'))).toBe(true);
    expect(blank(Buffer.from('\ufeff{}\n'))).toBe(false);
    expect(blank(Buffer.from(' \u00e9 '))).toBe(false);
    expect(blank(Buffer.from([0x20, 0x7f]))).toBe(false);
    expect(blank(Buffer.from([0x20, 0x21]))).toBe(false);
    expect(blank(Buffer.from([0xff, 0x0a]))).toBe(false);
  });
});
