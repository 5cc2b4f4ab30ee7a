import { getStaticTOMLValue, parseTOML, type AST } from 'toml-eslint-parser';
import { InvalidConfigError } from '../errors.js';
import { firstTooDeep, positionOf } from '../config/document.js';
import { decodeConfigText, detectEol } from './text.js';

/**
 * A TOML config file read strictly, with what an edit needs to keep every byte around it: the syntax tree with
 * each node's range (offsets into `text`), and the line ending the file uses.
 */
export interface TomlDocument {
  /** The file read (for messages). */
  file: string;
  /** Whether the file existed; a missing file reads as an empty one. */
  exists: boolean;
  /** The bytes as read. */
  bytes: Buffer;
  /** The text after the BOM, if any; every range in `ast` is an offset into it. */
  text: string;
  /** Whether the file starts with a UTF-8 BOM, which an edit keeps. */
  bom: boolean;
  /** The line ending to use for inserted lines. */
  eol: '\n' | '\r\n';
  /** The syntax tree (toml-eslint-parser's), with ranges and 1-based lines, 0-based columns. */
  ast: AST.TOMLProgram;
  /** The file's meaning as plain data (TOML dates stay the parser's date values). */
  value: Record<string, unknown>;
}

/**
 * Nesting (inline tables and arrays) beyond which a TOML file is refused before it is parsed: the parser
 * recurses once per level, and no registry config nests more than a few levels.
 */
export const TOML_MAX_DEPTH = 100;

/**
 * Parses a TOML config file as strictly as the engines' Go parsers do: UTF-8 (a BOM is allowed), TOML 1.0, no
 * key defined twice. Throws {@link InvalidConfigError} with `file:line:column` (1-based) and a hint naming the
 * file; `what` names the engine in that hint ("containerd would refuse it too").
 */
export function parseTomlDocument(file: string, bytes: Buffer, options: { exists?: boolean; what?: string } = {}): TomlDocument {
  let text = '';
  const hint = `Fix ${file} by hand${options.what ? ` (${options.what} would refuse it too)` : ''}, then run dockmirror again.`;
  const fail = (message: string, offset: number | undefined, cause?: unknown): never => {
    const pos = offset === undefined ? undefined : positionOf(text, offset);
    const where = pos ? `${file}:${pos.line}:${pos.column}` : file;
    throw new InvalidConfigError(`${where}: ${message}`, { location: { file, ...pos }, hint, cause });
  };
  const decoded = decodeConfigText(bytes);
  if (!decoded.ok) {
    text = decoded.readable;
    return fail(`invalid UTF-8 at byte ${decoded.badByte}`, text.length, decoded.cause);
  }
  const { bom } = decoded;
  text = decoded.text;
  const deep = firstTooDeep(text, TOML_MAX_DEPTH);
  if (deep !== -1) fail(`nested deeper than ${TOML_MAX_DEPTH} levels`, deep);
  let ast: AST.TOMLProgram;
  try {
    ast = parseTOML(text, { tomlVersion: '1.0.0' });
  } catch (cause) {
    const error = cause as { message?: string; index?: number };
    const message = String(error.message ?? cause).replace(/\s*\(\d+:\d+\)$/, '');
    return fail(`invalid TOML: ${message}`, typeof error.index === 'number' ? error.index : undefined, cause);
  }
  const value = getStaticTOMLValue(ast) as Record<string, unknown>;
  return { file, exists: options.exists ?? true, bytes, text, bom, eol: detectEol(text), ast, value };
}

/** The bytes of an edited TOML text, with the BOM the file had. */
export function tomlBytes(doc: Pick<TomlDocument, 'bom'>, text: string): Buffer {
  return Buffer.from(doc.bom ? `\uFEFF${text}` : text, 'utf8');
}
