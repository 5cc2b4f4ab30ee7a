import { parseTree, findNodeAtLocation, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { InvalidConfigError, PermissionDeniedError, type DockmirrorError, type FileLocation } from '../errors.js';
import { validateMirror } from '../mirror/url.js';
import { BUILTIN_PRESETS } from './builtin.js';
import { MAX_DEPTH, firstTooDeep, positionOf } from '../config/document.js';
import { BoundedReadError, readBounded } from '../support/bounded-read.js';

/** A presets file is a few lines; a bound keeps a link to /dev/zero or a huge file from filling memory. */
export const MAX_PRESETS_BYTES = 1024 * 1024;

/** A preset from the user's presets file. */
export interface UserPreset {
  /** Preset name (the key in the file). */
  name: string;
  /** Normalised mirror URL. */
  url: string;
  /** Description, or a default one. */
  description: string;
  /** `true` when it replaces a built-in preset of the same name (needs `"override": true`). */
  overrides: boolean;
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/i;

/**
 * Reads the user presets file: `{ "name": { "url": "...", "description": "...", "override"?: true } }`.
 * A missing file means no user presets. A user preset may replace a built-in only with `"override": true`, so
 * `dockmirror add gcr` never silently goes somewhere else. Problems throw {@link InvalidConfigError} with the
 * file and line.
 */
export async function loadUserPresets(file: string): Promise<UserPreset[]> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readBounded(file, { maxBytes: MAX_PRESETS_BYTES });
  } catch (error) {
    if (error instanceof BoundedReadError) {
      const what = error.reason === 'too-large' ? `is larger than ${MAX_PRESETS_BYTES} bytes` : 'is not a regular file (a FIFO, a device or a folder)';
      throw new InvalidConfigError(`The presets file ${file} ${what}.`, {
        cause: error,
        location: { file },
        hint: `Make ${file} a small JSON file, or remove it to use only the built-in presets.`,
      });
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new PermissionDeniedError(`Cannot read the presets file ${file}.`, { cause: error, location: { file }, hint: 'Check its permissions.' });
    }
    throw new InvalidConfigError(`Cannot read the presets file ${file}.`, { cause: error, location: { file } });
  }
  if (bytes === undefined) return [];
  return parseUserPresets(bytes.toString('utf8').replace(/^\uFEFF/, ''), file);
}

/** The user presets that could be read, and why none could when the file is broken. */
export interface LoadedUserPresets {
  /** The file's presets; empty when it is missing or broken. */
  presets: UserPreset[];
  /** One line naming the file (and line) and what is wrong with it, when it is broken. */
  warning?: string;
}

/**
 * {@link loadUserPresets}, for the commands that work without the user's presets: a broken file (bad JSON, a bad
 * entry, too large, unreadable) costs only the user's own presets, never the built-in ones. The warning says
 * which file and line, so the user can fix it; the file is read again, and used, once it parses.
 */
export async function loadUserPresetsOrWarn(file: string): Promise<LoadedUserPresets> {
  try {
    return { presets: await loadUserPresets(file) };
  } catch (error) {
    if (!(error instanceof InvalidConfigError || error instanceof PermissionDeniedError)) throw error;
    const said = /[.!?]$/.test(error.message) ? error.message : `${error.message}.`;
    return { presets: [], warning: `${said} Your presets in it are ignored until it is fixed; the built-in presets work as before.` };
  }
}

/** Parses the presets file's text; exported for tests and for callers that already hold the text. */
export function parseUserPresets(text: string, file: string): UserPreset[] {
  const fail = (message: string, offset: number, cause?: unknown): DockmirrorError =>
    new InvalidConfigError(`${file}:${locate(text, offset, file).line}: ${message}`, {
      cause,
      location: locate(text, offset, file),
      hint: 'Fix the presets file; the format is { "name": { "url": "https://...", "description": "..." } }.',
    });
  // jsonc-parser's tree recurses once per level: a deep file is refused before it can overflow the stack.
  const tooDeep = firstTooDeep(text, MAX_DEPTH);
  if (tooDeep !== -1) throw fail(`nested deeper than ${MAX_DEPTH} levels`, tooDeep);
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: false, disallowComments: true });
  const first = errors[0];
  if (first) throw fail(`invalid JSON (${printParseErrorCode(first.error)})`, first.offset, new SyntaxError(printParseErrorCode(first.error)));
  if (!root || root.type !== 'object') throw fail('the top level must be an object of presets', root?.offset ?? 0);
  const presets: UserPreset[] = [];
  for (const prop of root.children ?? []) {
    const [keyNode, valueNode] = prop.children ?? [];
    if (!keyNode || !valueNode) continue;
    const name = String(keyNode.value);
    if (!NAME.test(name)) throw fail(`preset name ${JSON.stringify(name)} must be letters, digits, ".", "_" or "-"`, keyNode.offset);
    if (presets.some((q) => q.name.toLowerCase() === name.toLowerCase())) {
      throw fail(`preset "${name}" is defined twice (names are case-insensitive)`, keyNode.offset);
    }
    if (valueNode.type !== 'object') throw fail(`preset "${name}" must be an object with a "url"`, valueNode.offset);
    const field = (key: string): Node | undefined => findNodeAtLocation(valueNode, [key]);
    const urlNode = field('url');
    if (!urlNode || typeof urlNode.value !== 'string') throw fail(`preset "${name}" needs a "url" string`, (urlNode ?? valueNode).offset);
    let url: string;
    try {
      url = validateMirror(urlNode.value).url;
    } catch (error) {
      throw fail(`preset "${name}": ${(error as Error).message}`, urlNode.offset, error);
    }
    const descNode = field('description');
    if (descNode && typeof descNode.value !== 'string') throw fail(`preset "${name}": "description" must be a string`, descNode.offset);
    const overrideNode = field('override');
    if (overrideNode && typeof overrideNode.value !== 'boolean') throw fail(`preset "${name}": "override" must be true or false`, overrideNode.offset);
    // Preset names are matched case-insensitively, so `GCR` would shadow the built-in `gcr` just the same.
    const isBuiltin = BUILTIN_PRESETS.some((p) => p.name === name.toLowerCase());
    if (isBuiltin && overrideNode?.value !== true) {
      throw fail(`preset "${name}" has the name of a built-in preset; add "override": true to replace it, or rename it`, keyNode.offset);
    }
    presets.push({ name, url, description: (descNode?.value as string | undefined) ?? `User preset ${name}`, overrides: isBuiltin });
  }
  return presets;
}

function locate(text: string, offset: number, file: string): FileLocation {
  return { file, ...positionOf(text, offset) };
}
