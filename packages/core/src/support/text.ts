/** Text helpers shared by the config readers: strict UTF-8, line endings, and whether a file holds anything. */

/** The line ending a file uses: CRLF when its first line ends with one, else LF. */
export function detectEol(text: string): '\n' | '\r\n' {
  const crlf = text.indexOf('\r\n');
  const lf = text.indexOf('\n');
  return crlf !== -1 && crlf < lf ? '\r\n' : '\n';
}

/** The offset of the first byte that is not valid UTF-8 (the lead byte of a cut-off sequence). */
export function firstInvalidUtf8(bytes: Buffer): number {
  // Binary search for the shortest prefix that fails. In stream mode a sequence cut off at the end is not an
  // error, so "prefix fails" only turns true at the first really invalid byte and stays true after it.
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid + 1), { stream: true });
      lo = mid + 1;
    } catch {
      hi = mid;
    }
  }
  // `lo` is where the decoder noticed; a sequence cut short there (by a bad byte or by the end of the file)
  // starts at its lead byte, which is the byte to report.
  for (let back = 1; back <= 3 && lo - back >= 0; back += 1) {
    const byte = bytes[lo - back] as number;
    if ((byte & 0xc0) === 0x80) continue;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    if (back < needed) return lo - back;
    break;
  }
  return lo;
}

/**
 * A config file's bytes as text, decoded as strictly as the engines decode them: UTF-8 only, a leading BOM noted
 * and cut off. Bytes that are not UTF-8 give the offset of the first bad byte and the readable text before it,
 * so the caller can name its line and column.
 */
export function decodeConfigText(bytes: Buffer): { ok: true; text: string; bom: boolean } | { ok: false; badByte: number; readable: string; cause: unknown } {
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    const badByte = firstInvalidUtf8(bytes);
    return { ok: false, badByte, readable: new TextDecoder('utf-8').decode(bytes.subarray(0, badByte)), cause };
  }
  const bom = decoded.startsWith('\uFEFF');
  return { ok: true, text: bom ? decoded.slice(1) : decoded, bom };
}

/**
 * Whether `bytes` hold nothing but whitespace (after a BOM) once decoded as UTF-8, as a file caught mid-write
 * does. Any printable ASCII byte decodes to itself and is no whitespace, so a file with content is told at its
 * first such byte, without decoding a megabyte to find out; only a file with none is decoded and trimmed.
 */
export function blank(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) > 0x20 && (bytes[i] as number) < 0x7f) return false;
  return bytes.toString('utf8').replace(/^\uFEFF/, '').trim() === '';
}
