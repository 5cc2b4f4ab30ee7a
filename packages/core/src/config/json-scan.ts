/**
 * The strict reader's one pass over a daemon.json that `JSON.parse` already accepted. `JSON.parse` is the
 * referee of validity; what it cannot say, this pass does, without building a syntax tree of the whole file:
 * nesting deeper than dockmirror reads, duplicate keys at any depth, and where the top-level object, its
 * properties and the items of the arrays the editor splices (registry-mirrors, insecure-registries) are.
 * Strings are skipped with `indexOf`, so a 1 MB file costs a few ms instead of a full parse tree's 100+.
 */
import type { Node, NodeType } from 'jsonc-parser';

/** What {@link scanJson} found: the nodes the editor needs, or the first problem a strict reader refuses. */
export type JsonScan =
  | { kind: 'ok'; root: Node; duplicate?: undefined }
  | { kind: 'ok'; root: Node; duplicate: { key: string; offset: number } }
  | { kind: 'too-deep'; offset: number };

/** A node as it is built: jsonc-parser's {@link Node}, writable until it is handed out. */
interface Built {
  type: NodeType;
  offset: number;
  length: number;
  parent?: Built;
  children?: Built[];
  value?: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** An open object or array. `keys` is set for objects; `items` for an array whose items are kept. */
interface Frame {
  start: number;
  node: Built | undefined;
  keys: Set<string> | undefined;
  expectKey: boolean;
  items: Built[] | undefined;
  /** Whether a duplicate was already found in this object: only its first counts. */
  duplicated: boolean;
}

/**
 * Scans `text`, which `JSON.parse` must have accepted (the pass relies on it and checks no grammar). The
 * nodes it returns have jsonc-parser's shape, as far as they go: the root (`offset`, `length`, `type`), for an
 * object root each property (`offset` of its key to the end of its value, key node with `value`, value node
 * with `type`, `offset`, `length`, `parent`), and the items of the arrays of the top-level keys in `keepItems`.
 * Nothing deeper is built.
 *
 * The first problem is reported as jsonc's tree walk met it before: nesting deeper than `maxDepth` (the
 * first bracket too deep, in text order) outranks a duplicate key; of the duplicates, the one in the object
 * that starts first wins (a parent's keys were checked before its children's), and within that object the
 * first key that repeats an earlier one.
 */
export function scanJson(text: string, maxDepth: number, keepItems: readonly string[]): JsonScan {
  const frames: Frame[] = [];
  let root: Built | undefined;
  let property: Built | undefined;
  let duplicate: { key: string; offset: number; objectStart: number } | undefined;
  const length = text.length;
  // The open container and whether values at this depth get nodes (the root, the top level's values, the items
  // of a kept array): kept in locals, since a large file's values are mostly deeper and must cost nothing more.
  let top: Frame | undefined;
  let track = true;
  const moved = (): void => {
    top = frames[frames.length - 1];
    track = frames.length <= 1 || (frames.length === 2 && (frames[1] as Frame).items !== undefined);
  };

  /** A value starting at `offset` at the current depth: its node when the editor needs one. */
  const valueNode = (offset: number, type: NodeType): Built | undefined => {
    const depth = frames.length;
    if (depth === 0) return (root = { type, offset, length: 0 });
    if (depth === 1 && property) {
      const node: Built = { type, offset, length: 0, parent: property };
      property.children?.push(node);
      return node;
    }
    const items = depth === 2 ? (frames[1] as Frame).items : undefined;
    if (!items) return undefined;
    const node: Built = { type, offset, length: 0, parent: (frames[1] as Frame).node as Built };
    items.push(node);
    return node;
  };
  /** A value of the top-level object ended at `end`: so did its property. */
  const endValue = (end: number): void => {
    if (frames.length === 1 && property) {
      property.length = end - property.offset;
      property = undefined;
    }
  };

  for (let i = 0; i < length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(text, i);
      if (top?.expectKey) {
        top.expectKey = false;
        const raw = text.slice(i + 1, end);
        // An escaped key means what it decodes to: "a" and "\u0061" are the same key to dockerd.
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        const keys = top.keys as Set<string>;
        if (!keys.has(key)) keys.add(key);
        else if (!top.duplicated) {
          top.duplicated = true;
          if (!duplicate || top.start < duplicate.objectStart) duplicate = { key, offset: i, objectStart: top.start };
        }
        if (frames.length === 1 && top.node) {
          property = { type: 'property', offset: i, length: 0, parent: top.node, children: [] };
          property.children?.push({ type: 'string', offset: i, length: end + 1 - i, parent: property, value: key });
          top.node.children?.push(property);
        }
      } else if (track) {
        const node = valueNode(i, 'string');
        if (node) node.length = end + 1 - i;
        endValue(end + 1);
      }
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (frames.length + 1 > maxDepth) return { kind: 'too-deep', offset: i };
      const object = c === OPEN_OBJECT;
      const node = track ? valueNode(i, object ? 'object' : 'array') : undefined;
      if (node && (object ? frames.length === 0 : frames.length === 1 && keepItems.includes(property?.children?.[0]?.value as string))) node.children = [];
      frames.push({ start: i, node, keys: object ? new Set() : undefined, expectKey: object, items: object ? undefined : node?.children, duplicated: false });
      moved();
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      const frame = frames.pop() as Frame;
      moved();
      if (frame.node) frame.node.length = i + 1 - frame.node.offset;
      endValue(i + 1);
    } else if (c === COMMA) {
      if (top?.keys !== undefined) top.expectKey = true;
    } else if (c !== COLON && !isWhitespace(c)) {
      // A number, true, false or null: it runs to the next separator or whitespace.
      let end = i + 1;
      while (end < length && !endsLiteral(text.charCodeAt(end))) end += 1;
      if (track) {
        const node = valueNode(i, c === 0x74 || c === 0x66 ? 'boolean' : c === 0x6e ? 'null' : 'number');
        if (node) node.length = end - i;
        endValue(end);
      }
      i = end - 1;
    }
  }
  if (!root) throw new Error('scanJson needs a text JSON.parse accepted');
  return duplicate ? { kind: 'ok', root, duplicate: { key: duplicate.key, offset: duplicate.offset } } : { kind: 'ok', root };
}

/** The offset of the quote that closes the string opening at `start`: the next quote not escaped. */
function closingQuote(text: string, start: number): number {
  let end = text.indexOf('"', start + 1);
  for (;;) {
    if (end === -1) throw new Error('scanJson needs a text JSON.parse accepted');
    // Escaped when an odd number of backslashes precede it.
    let k = end - 1;
    while (text.charCodeAt(k) === BACKSLASH) k -= 1;
    if ((end - 1 - k) % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
}

/** JSON's four whitespace characters, the only ones `JSON.parse` accepts. */
function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function endsLiteral(c: number): boolean {
  return c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isWhitespace(c);
}
