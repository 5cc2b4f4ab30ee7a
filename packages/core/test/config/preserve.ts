import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseTree, type Node } from 'jsonc-parser';
import { expect } from 'vitest';

/** The two keys dockmirror may change; everything else must survive byte for byte. */
export const EDITED = ['registry-mirrors', 'insecure-registries'] as const;

const BOM = '\uFEFF';

/** A fresh real temp folder; `done()` removes it. */
export async function tempDir(prefix = 'dm-config-'): Promise<{ dir: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

function body(bytes: Buffer): { text: string; bom: boolean } {
  const text = bytes.toString('utf8');
  return text.startsWith(BOM) ? { text: text.slice(1), bom: true } : { text, bom: false };
}

/** What the file means to dockerd (a blank file is `{}`). */
export function meaning(bytes: Buffer): Record<string, unknown> {
  const { text } = body(bytes);
  return text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/** The meaning with absent mirror keys read as `[]`, which is what "add then remove" must give back. */
export function meaningWithLists(bytes: Buffer): Record<string, unknown> {
  const m = meaning(bytes);
  return { ...m, 'registry-mirrors': m['registry-mirrors'] ?? [], 'insecure-registries': m['insecure-registries'] ?? [] };
}

function without(m: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(m).filter(([k]) => !(EDITED as readonly string[]).includes(k)));
}

/**
 * The file's text with each edited property cut out, together with the separator before it (from the end of
 * the previous property, or from the opening brace). A property that is new and one that was changed both vanish,
 * so the rest can be compared byte for byte. For an object that had no properties at all, only what is outside
 * its braces is kept: laying out the inside of `{}` is the one reformat allowed.
 */
export function outsideEditedArrays(bytes: Buffer, emptyObject: boolean): string {
  const { text, bom } = body(bytes);
  const prefix = bom ? BOM : '';
  if (text.trim() === '') return prefix + text;
  const root = parseTree(text) as Node;
  const open = root.offset + 1;
  const close = root.offset + root.length - 1;
  if (emptyObject) return `${prefix}${text.slice(0, open)}…${text.slice(close)}`;
  let out = '';
  let from = 0;
  let previousEnd = open;
  for (const property of root.children ?? []) {
    const end = property.offset + property.length;
    if ((EDITED as readonly string[]).includes(property.children?.[0]?.value as string)) {
      out += text.slice(from, previousEnd);
      from = end;
    }
    previousEnd = end;
  }
  return prefix + out + text.slice(from);
}

function hasProperties(bytes: Buffer): boolean {
  const { text } = body(bytes);
  if (text.trim() === '') return false;
  return ((parseTree(text) as Node).children ?? []).length > 0;
}

function indentsOf(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => /^[ \t]*/.exec(line)?.[0] ?? '')
    .filter((indent) => indent !== '');
}

/** What the edited keys should hold after the change (`undefined`: the key stays as it was, or absent). */
export interface Expected {
  mirrors?: string[];
  insecure?: string[];
}

/**
 * Asserts everything the foundation issue promises about an edit: strict JSON, BOM, line endings, final newline,
 * indentation of new lines, key order, the meaning of every other key, and every byte outside the two arrays.
 */
export function expectPreserved(before: Buffer, after: Buffer, expected: Expected = {}): void {
  const b = body(before);
  const a = body(after);
  const parsed = JSON.parse(a.text) as Record<string, unknown>; // strict JSON, or this throws
  expect(a.bom, 'BOM kept').toBe(b.bom);

  const blank = b.text.trim() === '';
  if (!blank) {
    const hasCrlf = b.text.includes('\r\n');
    const hasLoneLf = /(^|[^\r])\n/.test(b.text);
    if (hasCrlf && !hasLoneLf) expect(/(^|[^\r])\n/.test(a.text), 'no lone \\n in a CRLF file').toBe(false);
    if (!b.text.includes('\r')) expect(a.text.includes('\r'), 'no \\r in an LF file').toBe(false);
    expect(/\n[ \t]*$/.test(a.text), 'final newline kept').toBe(/\n[ \t]*$/.test(b.text));
    const oneLine = !b.text.trim().includes('\n') && hasProperties(before);
    if (oneLine) expect(a.text.trim().includes('\n'), 'a one-line file stays on one line').toBe(false);
  } else {
    const eol = b.text.includes('\r\n') ? '\r\n' : '\n';
    expect(a.text.endsWith(eol), 'a new file ends with a line break').toBe(true);
    if (eol === '\r\n') expect(/(^|[^\r])\n/.test(a.text)).toBe(false);
  }

  // New lines are indented with the file's own characters: no spaces in a tab file, no tabs in a space file.
  const oldIndents = indentsOf(b.text);
  const oldChars = new Set(oldIndents.join('').split(''));
  if (oldChars.size === 0) oldChars.add(' ');
  for (const indent of indentsOf(a.text)) {
    for (const ch of indent) expect(oldChars.has(ch), `indent ${JSON.stringify(indent)} uses the file's characters`).toBe(true);
  }
  const unit = oldIndents[0];
  if (unit && oldIndents.every((i) => /^ +$/.test(i)) && oldIndents.every((i) => i.length % unit.length === 0)) {
    for (const indent of indentsOf(a.text)) expect(indent.length % unit.length, `indent is a multiple of ${unit.length}`).toBe(0);
  }

  // Meaning and order of every other key.
  const old = meaning(before);
  expect(without(parsed)).toEqual(without(old));
  expect(Object.keys(without(parsed))).toEqual(Object.keys(without(old)));
  const keysBefore = Object.keys(old);
  expect(Object.keys(parsed).slice(0, keysBefore.length), 'existing keys keep their order').toEqual(keysBefore);
  if (expected.mirrors) expect(parsed['registry-mirrors']).toEqual(expected.mirrors);
  else expect(parsed['registry-mirrors']).toEqual(old['registry-mirrors']);
  if (expected.insecure) expect(parsed['insecure-registries']).toEqual(expected.insecure);
  else expect(parsed['insecure-registries']).toEqual(old['insecure-registries']);

  // Every byte outside the two edited properties.
  const emptyObject = !blank && !hasProperties(before);
  if (!blank) expect(outsideEditedArrays(after, emptyObject)).toBe(outsideEditedArrays(before, emptyObject));
}
