/**
 * What containerd's two TOML files need from toml-eslint-parser's syntax tree: every key with its full path
 * (table headers, dotted keys and inline tables resolved) and the node that defines it, so a type error points at
 * `file:line:column` and an edit splices exactly one table. The tree itself comes from `support/toml.ts`.
 */
import type { AST } from 'toml-eslint-parser';
import { InvalidConfigError } from '../../errors.js';
import { positionOf } from '../../config/document.js';
import type { TomlDocument } from '../../support/toml.js';

/** One key of a TOML file: a `key = value` (any nesting) or a `[table]` / `[[array]]` header. */
export interface TomlEntry {
  /** The full key, e.g. `['host', 'http://127.0.0.1:5000', 'capabilities']`; array-table indexes as strings. */
  path: string[];
  /** `value` for `key = value`, `table` for `[a.b]`, `array-table` for `[[a.b]]`. */
  kind: 'value' | 'table' | 'array-table';
  /** The key-value or the table (its header and body). */
  node: AST.TOMLKeyValue | AST.TOMLTable;
  /** The value node, for `kind: 'value'`. */
  value?: AST.TOMLContentNode;
}

/** The name a key part stands for: a bare key as written, a quoted one unquoted. */
export function keyPart(part: AST.TOMLBare | AST.TOMLQuoted): string {
  return part.type === 'TOMLBare' ? part.name : part.value;
}

/**
 * Every key of the file in file order. Inline tables are entered (their keys come after the key that holds
 * them); arrays are not, since no setting dockmirror checks lives inside an array of tables.
 */
export function entriesOf(ast: AST.TOMLProgram): TomlEntry[] {
  const entries: TomlEntry[] = [];
  const visit = (prefix: string[], body: readonly AST.TOMLKeyValue[]): void => {
    for (const kv of body) {
      const path = [...prefix, ...kv.key.keys.map(keyPart)];
      entries.push({ path, kind: 'value', node: kv, value: kv.value });
      if (kv.value.type === 'TOMLInlineTable') visit(path, kv.value.body);
    }
  };
  for (const top of ast.body) {
    for (const item of top.body) {
      if (item.type === 'TOMLKeyValue') {
        visit([], [item]);
        continue;
      }
      const path = item.resolvedKey.map(String);
      // An array table's own key is its name; the keys inside it carry the element's index.
      const name = item.kind === 'array' && typeof item.resolvedKey.at(-1) === 'number' ? path.slice(0, -1) : path;
      entries.push({ path: name, kind: item.kind === 'array' ? 'array-table' : 'table', node: item });
      visit(path, item.body);
    }
  }
  return entries;
}

/** The TOML type of a value node, in words for messages. */
export function tomlType(node: AST.TOMLContentNode): string {
  if (node.type === 'TOMLArray') return 'array';
  if (node.type === 'TOMLInlineTable') return 'table';
  return node.kind === 'offset-date-time' || node.kind === 'local-date-time' || node.kind === 'local-date' || node.kind === 'local-time'
    ? 'date'
    : node.kind;
}

/** An {@link InvalidConfigError} at a node, with the file's `file:line:column` and the engine named in the hint. */
export function invalidAt(doc: TomlDocument, offset: number, message: string, hint: string): InvalidConfigError {
  const pos = positionOf(doc.text, offset);
  return new InvalidConfigError(`${doc.file}:${pos.line}:${pos.column}: ${message}`, { location: { file: doc.file, ...pos }, hint });
}

/** Offset of the start of the line holding `offset`. */
export function lineStart(text: string, offset: number): number {
  // lastIndexOf clamps a negative start to 0, where a leading line break would match.
  return offset <= 0 ? 0 : text.lastIndexOf('\n', offset - 1) + 1;
}

/** Offset just past the line ending of the line holding `offset` (the text's end when it has none). */
export function nextLine(text: string, offset: number): number {
  const eol = text.indexOf('\n', offset);
  return eol === -1 ? text.length : eol + 1;
}

/** Whether the line starting at `start` holds only blanks (and its line ending). */
export function isBlankLine(text: string, start: number): boolean {
  return /^[ \t]*\r?$/.test(text.slice(start, nextLine(text, start)).replace(/\n$/, ''));
}

/** Whether the line starting at `start` is a comment line (`# …`, perhaps indented). */
export function isCommentLine(text: string, start: number): boolean {
  return /^[ \t]*#/.test(text.slice(start, nextLine(text, start)));
}

/** A TOML basic string for `value` (JSON's escapes are TOML's for the characters a URL or path holds). */
export function tomlString(value: string): string {
  return JSON.stringify(value).replace(/\u007f/g, '\\u007f');
}
