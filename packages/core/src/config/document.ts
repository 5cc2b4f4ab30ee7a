import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { InvalidConfigError, producedBug } from '../errors.js';
import { decodeConfigText, detectEol } from '../support/text.js';
import { scanJson } from './json-scan.js';

const BOM = '\uFEFF';

/** The keys dockmirror edits; both must be arrays of strings when present. */
export const MIRROR_KEYS = ['registry-mirrors', 'insecure-registries'] as const;

/**
 * A daemon.json as read from disk: its exact text (without the BOM), how it is laid out, and the meaning of the
 * two keys dockmirror cares about. Everything needed to edit it without touching other bytes.
 */
export interface DaemonConfigDocument {
  /** Absolute path of the file. */
  file: string;
  /** Whether the file existed. A missing file reads as `{}`. */
  exists: boolean;
  /** The exact bytes read (empty for a missing file). */
  bytes: Buffer;
  /** The text after the BOM. */
  text: string;
  /** Whether the file starts with a UTF-8 byte order mark. */
  bom: boolean;
  /** The line ending new lines should use: the file's own. */
  eol: '\n' | '\r\n';
  /** Indentation unit new lines should use: the file's own. */
  indent: { insertSpaces: boolean; tabSize: number };
  /** `registry-mirrors`, or `undefined` when the key is absent. */
  mirrors: string[] | undefined;
  /** `insecure-registries`, or `undefined` when the key is absent. */
  insecureRegistries: string[] | undefined;
}

/** The deepest nesting dockerd reads: Go's encoding/json refuses anything deeper. */
export const DOCKERD_MAX_DEPTH = 10_000;

/**
 * The deepest nesting dockmirror reads. jsonc-parser (the syntax tree, edits) and node:util's deep comparison
 * recurse once per level and run out of stack somewhere past 2,000 levels, which used to surface as exit 1; a
 * real daemon.json is a few levels deep, so anything past this is refused up front with its position instead.
 */
export const MAX_DEPTH = 1_000;

/**
 * The offset of the first `{` or `[` nested deeper than `limit`, or -1. One pass without recursion, skipping
 * strings, so it is safe on any input, and cheap: it runs before anything that recurses.
 */
export function firstTooDeep(text: string, limit: number): number {
  // A text with fewer characters than the limit cannot hold that many brackets.
  if (text.length <= limit) return -1;
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string: a backslash escapes the next character, a quote ends it.
      for (i += 1; i < text.length; i += 1) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 1;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      depth += 1;
      if (depth > limit) return i;
    } else if (c === 0x7d || c === 0x5d) {
      depth -= 1;
    }
  }
  return -1;
}

/**
 * Refuses a daemon.json nested deeper than dockmirror reads, naming the first bracket too deep; `what` names the
 * file for the hint. Past dockerd's own limit the file is one dockerd refuses too.
 */
function checkDepth(text: string, fail: (message: string, offset: number, hint: string) => never, what: string): void {
  const tooDeep = firstTooDeep(text, MAX_DEPTH);
  if (tooDeep === -1) return;
  const beyondDockerd = firstTooDeep(text, DOCKERD_MAX_DEPTH);
  if (beyondDockerd !== -1) {
    fail(`nested deeper than ${DOCKERD_MAX_DEPTH} levels (dockerd refuses it too)`, beyondDockerd, `Fix ${what} by hand: no value may be nested more than ${DOCKERD_MAX_DEPTH} levels deep.`);
  }
  fail(
    `nested deeper than ${MAX_DEPTH} levels`,
    tooDeep,
    `dockmirror reads files nested at most ${MAX_DEPTH} levels deep (dockerd allows ${DOCKERD_MAX_DEPTH}); flatten the value there in ${what} by hand, or edit the file without dockmirror.`,
  );
}

/** 1-based line and column of a character offset. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Parses daemon.json as strictly as dockerd does: UTF-8 (BOM allowed), strict JSON, no comments, no trailing
 * commas, no duplicate keys, an object at the root, and string arrays for the mirror keys. An empty or
 * whitespace-only file means `{}`. Throws {@link InvalidConfigError} naming the line and column.
 */
export function parseDaemonConfig(file: string, bytes: Buffer, exists = true): DaemonConfigDocument {
  // Positions are reported against `text`, so it is set before anything can fail.
  let text = '';
  const fail = (message: string, offset: number | undefined, hint: string, cause?: unknown): never => {
    const pos = offset === undefined ? undefined : positionOf(text, offset);
    const where = pos ? `${file}:${pos.line}:${pos.column}` : file;
    throw new InvalidConfigError(`${where}: ${message}`, { location: { file, ...pos }, hint, cause });
  };
  const fixHint = `Fix ${file} by hand (dockerd would refuse it too), then run dockmirror again.`;
  const decoded = decodeConfigText(bytes);
  if (!decoded.ok) {
    text = decoded.readable;
    return fail(`invalid UTF-8 at byte ${decoded.badByte}`, text.length, `Save ${file} as UTF-8.`, decoded.cause) as never;
  }
  const { bom } = decoded;
  text = decoded.text;
  const layout = { eol: detectEol(text), indent: detectIndent(text) };
  const base = { file, exists, bytes, text, bom, ...layout };
  if (text.trim() === '') return { ...base, mirrors: undefined, insecureRegistries: undefined };

  const value = parseOrInvalid(text);
  // Invalid JSON is rare and its message must name the first problem: the full syntax tree says which one.
  if (value === INVALID) return refuseInvalidJson(text, fail, fixHint, file);
  const scan = scanJson(text, MAX_DEPTH, MIRROR_KEYS);
  // Too deep for dockmirror: checkDepth names the bracket, and whether dockerd refuses it too.
  if (scan.kind === 'too-deep') return checkDepth(text, (message, offset, hint) => fail(message, offset, hint), file) as never;
  const { root } = scan;
  if (root.type !== 'object') fail('the top level must be a JSON object ({ ... })', root.offset, fixHint);
  if (scan.duplicate) fail(`duplicate key ${JSON.stringify(scan.duplicate.key)}`, scan.duplicate.offset, fixHint);
  const object = value as Record<string, unknown>;
  const doc = {
    ...base,
    mirrors: stringArray(root, object, 'registry-mirrors', fail),
    insecureRegistries: stringArray(root, object, 'insecure-registries', fail),
  };
  trees.set(doc, root);
  values.set(doc, object);
  return doc;
}

/** `JSON.parse` could not read the text. */
const INVALID = Symbol('invalid JSON');

function parseOrInvalid(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return INVALID;
  }
}

/**
 * Refuses a text `JSON.parse` refused, naming its first problem as the full syntax tree sees it: nesting too
 * deep first (the tree would recurse past the stack), then jsonc-parser's error (comments, trailing commas...),
 * then `JSON.parse`'s own message for what jsonc is lenient about (e.g. some number forms).
 */
function refuseInvalidJson(text: string, fail: (message: string, offset: number | undefined, hint: string, cause?: unknown) => never, fixHint: string, file: string): never {
  checkDepth(text, (message, offset, hint) => fail(message, offset, hint), file);
  const errors: ParseError[] = [];
  parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (first) fail(`invalid JSON: ${describeParseError(printParseErrorCode(first.error))}`, first.offset, fixHint);
  try {
    JSON.parse(text);
  } catch (cause) {
    const at = /position (\d+)/.exec(String((cause as Error).message));
    fail(`invalid JSON: ${(cause as Error).message}`, at ? Number(at[1]) : undefined, fixHint, cause);
  }
  throw new Error('refuseInvalidJson: JSON.parse accepted the text the second time');
}

// The syntax tree of each strictly parsed document, so an edit does not parse a large file a second time.
const trees = new WeakMap<DaemonConfigDocument, Node>();

/** The jsonc syntax tree {@link parseDaemonConfig} built for `doc`, if it built one. */
export function syntaxTreeOf(doc: DaemonConfigDocument): Node | undefined {
  return trees.get(doc);
}

// The value `JSON.parse` read for each strictly parsed document, so the produced-bytes check does not parse a
// large file again. Kept here, never handed out to be changed: see {@link parsedValueOf}.
const values = new WeakMap<DaemonConfigDocument, Record<string, unknown>>();

/**
 * What `JSON.parse` made of `doc`'s text when {@link parseDaemonConfig} read it; `undefined` for a document it
 * did not read (a missing or empty file, a lenient read). Callers only compare it: it is the reader's own copy.
 */
export function parsedValueOf(doc: DaemonConfigDocument): Readonly<Record<string, unknown>> | undefined {
  return values.get(doc);
}

/**
 * Checks bytes dockmirror itself produced from a strictly parsed file (an edit, or a backup being restored):
 * UTF-8, strict JSON by `JSON.parse`, an object at the top, string arrays for the mirror keys. It skips the
 * syntax tree and the duplicate-key scan that only hand-written input needs, which halves the cost on big files.
 * Throws {@link InvalidConfigError} like {@link parseDaemonConfig}.
 */
export function checkProducedConfig(file: string, bytes: Buffer): DaemonConfigDocument & { value: Record<string, unknown> } {
  const fail = (message: string, cause?: unknown): never => {
    throw producedBug(file, message, cause);
  };
  let text = '';
  let value: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    value = text.trim() === '' ? {} : JSON.parse(text.startsWith(BOM) ? text.slice(1) : text);
  } catch (cause) {
    fail('bytes that are not strict JSON', cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('a top level that is not an object');
  const object = value as Record<string, unknown>;
  const list = (key: string): string[] | undefined => {
    const item = object[key];
    if (item === undefined) return undefined;
    if (item === null) return [];
    if (!Array.isArray(item) || item.some((v) => typeof v !== 'string')) fail(`a "${key}" that is not a list of strings`);
    return item as string[];
  };
  const bom = text.startsWith(BOM);
  const body = bom ? text.slice(1) : text;
  return {
    file,
    exists: true,
    bytes,
    text: body,
    bom,
    eol: detectEol(body),
    indent: detectIndent(body),
    mirrors: list('registry-mirrors'),
    insecureRegistries: list('insecure-registries'),
    value: object,
  };
}

type Fail = (message: string, offset: number | undefined, hint: string) => never;

/** A mirror key's list: its nodes say where a wrong type is, `JSON.parse`'s value what the strings are. */
function stringArray(root: Node, object: Record<string, unknown>, key: string, fail: Fail): string[] | undefined {
  const property = root.children?.find((p) => p.children?.[0]?.value === key);
  const value = property?.children?.[1];
  if (!value) return undefined;
  // dockerd decodes null into an empty list, and a reload treats the key as present: the same as [].
  if (value.type === 'null') return [];
  const hint = `Make "${key}" a list of strings, e.g. "${key}": ["${key === 'registry-mirrors' ? 'https://mirror.example.com' : 'mirror.example.com:5000'}"].`;
  if (value.type !== 'array') fail(`"${key}" must be an array of strings, not ${value.type}`, value.offset, hint);
  for (const item of value.children ?? []) {
    if (item.type !== 'string') fail(`"${key}" must contain only strings, found ${item.type}`, item.offset, hint);
  }
  // A copy: the parsed value stays the reader's own (see parsedValueOf).
  return [...(object[key] as string[])];
}

function describeParseError(code: string): string {
  const words: Record<string, string> = {
    InvalidCommentToken: 'comments are not allowed in daemon.json',
    PropertyNameExpected: 'property name expected (a trailing comma?)',
    ValueExpected: 'value expected (a trailing comma?)',
    CommaExpected: 'comma expected',
    ColonExpected: 'colon expected',
    CloseBraceExpected: 'closing } expected',
    CloseBracketExpected: 'closing ] expected',
    EndOfFileExpected: 'end of file expected (more than one value?)',
  };
  return words[code] ?? code;
}

function detectIndent(text: string): { insertSpaces: boolean; tabSize: number } {
  const match = /\n([ \t]+)\S/.exec(text);
  const unit = match?.[1];
  if (!unit) return { insertSpaces: true, tabSize: 2 };
  if (unit.startsWith('\t')) return { insertSpaces: false, tabSize: 1 };
  return { insertSpaces: true, tabSize: unit.length };
}
