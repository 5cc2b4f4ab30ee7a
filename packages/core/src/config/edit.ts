import { applyEdits, findNodeAtLocation, type Edit, type Node } from 'jsonc-parser';
import { BugError } from '../errors.js';
import { MAX_DEPTH, MIRROR_KEYS, syntaxTreeOf, type DaemonConfigDocument } from './document.js';
import { scanJson } from './json-scan.js';

/** Where a new entry goes in its array. */
export type Position = 'first' | 'last';

/**
 * A change to one of daemon.json's string arrays. Applied in order; each step sees the text the previous one
 * produced.
 */
export type ArrayChange =
  | { key: string; insert: string; position: Position }
  | { key: string; removeIndex: number };

/**
 * Applies array changes to the document's text and returns the new file bytes (BOM kept). The strict read's
 * nodes (json-scan.ts) say where each splice goes and jsonc-parser's `applyEdits` makes it. No formatter runs,
 * on purpose: jsonc-parser's rewrites whole lines around an edit (a minified file would be re-indented entirely).
 * The only whitespace added is the file's own: its line ending, its indentation unit and its spacing after colons.
 */
export function applyArrayChanges(doc: DaemonConfigDocument, changes: readonly ArrayChange[]): Buffer {
  let text = doc.text.trim() === '' ? '' : doc.text;
  const root = text === '' ? undefined : (syntaxTreeOf(doc) ?? treeOf(text));
  const inserts = changes.filter((c): c is Extract<ArrayChange, { insert: string }> => 'insert' in c);
  if (root?.children?.length && inserts.length === changes.length && new Set(inserts.map((c) => c.key)).size === inserts.length) {
    // Insertions into different arrays of a non-empty object never overlap, so one parse of a large file serves
    // them all; applyEdits keeps equal-offset edits (two new keys) in the order given.
    text = applyEdits(text, inserts.map((change) => insertEdit(doc, text, change, root)));
  } else {
    // The first step splices the text as read, whose nodes the read kept; each later one sees the text before it.
    let tree = root;
    for (const change of changes) {
      const now = tree ?? (text === '' ? undefined : treeOf(text));
      const edit = 'insert' in change ? insertEdit(doc, text, change, now) : removeEdit(text, change, now as Node);
      text = applyEdits(text, [edit]);
      tree = undefined;
    }
  }
  if (!doc.exists || doc.text.trim() === '') text += doc.eol;
  return Buffer.from((doc.bom ? '\uFEFF' : '') + text, 'utf8');
}

/**
 * The nodes the edits need of a text dockmirror made from a strictly read one (so valid JSON, at most
 * {@link MAX_DEPTH} deep): the strict reader's one pass (json-scan.ts), not a syntax tree of a whole large file.
 */
function treeOf(text: string): Node {
  const scan = scanJson(text, MAX_DEPTH, MIRROR_KEYS);
  if (scan.kind !== 'ok') throw new BugError('an edit of daemon.json produced a text nested too deep', {});
  return scan.root;
}

/** The splice that removes one item of an array: as jsonc-parser's `modify` cuts it, but for the last item. */
function removeEdit(text: string, change: { key: string; removeIndex: number }, root: Node): Edit {
  const array = findNodeAtLocation(root, [change.key]);
  const items = array?.children ?? [];
  const item = items[change.removeIndex];
  if (!array || !item) throw new Error(`no element ${change.removeIndex} in ${change.key}`);
  // The only item: everything between the brackets goes.
  if (items.length === 1) return { offset: array.offset + 1, length: array.length - 2, content: '' };
  // jsonc-parser's own removal of a last item cuts up to 2 characters before "]", which breaks `["a","b"]`
  // into `["a""]` and eats the line break of a "]" on its own line; cut exactly from the previous item instead.
  const previous = items[change.removeIndex - 1];
  if (previous && change.removeIndex === items.length - 1) {
    const start = previous.offset + previous.length;
    return { offset: start, length: item.offset + item.length - start, content: '' };
  }
  // Any other item: from its start to the next one's, its comma and the space after it included.
  const next = items[change.removeIndex + 1] as Node;
  return { offset: item.offset, length: next.offset - item.offset, content: '' };
}

function insertEdit(
  doc: DaemonConfigDocument,
  text: string,
  change: { key: string; insert: string; position: Position },
  root: Node | undefined,
): Edit {
  const style = styleOf(doc, text);
  const value = JSON.stringify(change.insert);
  if (text === '') {
    const body = `${style.unit}${JSON.stringify(change.key)}${style.colon}${arrayText([value], style.unit, style)}`;
    return { offset: 0, length: 0, content: `{${style.eol}${body}${style.eol}}` };
  }
  if (!root) throw new Error('daemon.json text did not parse');
  const array = findNodeAtLocation(root, [change.key]);
  if (!array) return newPropertyEdit(root, change.key, value, style);

  // `"key": null` means an empty list to dockerd; the new list takes the null's place.
  if (array.type === 'null') {
    return { offset: array.offset, length: array.length, content: arrayText([value], lineIndent(text, array.parent?.offset ?? array.offset), style) };
  }
  const items = array.children ?? [];
  const multiLine = text.slice(array.offset, array.offset + array.length).includes('\n');
  const keyIndent = lineIndent(text, array.parent?.offset ?? array.offset);
  if (items.length === 0) {
    const inner = style.multiLine ? arrayText([value], keyIndent, style).slice(1, -1) : value;
    return { offset: array.offset + 1, length: array.length - 2, content: inner };
  }
  const first = items[0] as Node;
  const last = items[items.length - 1] as Node;
  const separator = multiLine ? `${style.eol}${lineIndent(text, first.offset)}` : inlineSeparator(text, array, style);
  return change.position === 'first'
    ? { offset: first.offset, length: 0, content: `${value},${separator}` }
    : { offset: last.offset + last.length, length: 0, content: `,${separator}${value}` };
}

function newPropertyEdit(root: Node, key: string, value: string, style: Style): Edit {
  const properties = root.children ?? [];
  const lastProperty = properties[properties.length - 1];
  if (!lastProperty) {
    // An empty object has no layout worth keeping: lay it out with the file's own line ending and unit.
    const body = `${style.unit}${JSON.stringify(key)}${style.colon}${arrayText([value], style.unit, style)}`;
    const content = style.multiLine ? `${style.eol}${body}${style.eol}` : body.trimStart();
    return { offset: root.offset + 1, length: root.length - 2, content };
  }
  const indent = style.multiLine ? lineIndent(style.text, (properties[0] as Node).offset) : '';
  const lead = style.multiLine ? `${style.eol}${indent}` : '';
  const property = `${JSON.stringify(key)}${style.colon}${arrayText([value], indent, style)}`;
  return { offset: lastProperty.offset + lastProperty.length, length: 0, content: `,${lead}${property}` };
}

interface Style {
  text: string;
  eol: string;
  unit: string;
  colon: string;
  multiLine: boolean;
}

function styleOf(doc: DaemonConfigDocument, text: string): Style {
  const unit = doc.indent.insertSpaces ? ' '.repeat(doc.indent.tabSize) : '\t';
  // A one-line file ({"a":1}) is kept on one line; an empty object or a new file gets the pretty layout.
  const multiLine = text.trim().includes('\n') || /^\s*\{\s*\}\s*$/.test(text) || text === '';
  const colon = text === '' || /"\s*:[ \t]/.test(text) || /^\s*\{\s*\}\s*$/.test(text) ? ': ' : ':';
  return { text, eol: doc.eol, unit, colon, multiLine };
}

function arrayText(values: string[], indent: string, style: Style): string {
  if (!style.multiLine) return `[${values.join(',')}]`;
  const inner = values.map((v) => `${style.eol}${indent}${style.unit}${v}`).join(',');
  return `[${inner}${style.eol}${indent}]`;
}

function inlineSeparator(text: string, array: Node, style: Style): string {
  const slice = text.slice(array.offset, array.offset + array.length);
  const spaced = /,[ \t]/.test(slice) || (!/,\S/.test(slice) && style.colon === ': ');
  return spaced ? ' ' : '';
}

function lineIndent(text: string, offset: number): string {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start, offset))?.[0] ?? '';
}
