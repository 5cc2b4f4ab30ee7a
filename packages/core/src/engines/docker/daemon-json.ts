/**
 * Docker's registry mirrors in daemon.json: what the two global arrays mean per registry, and the add and
 * remove plans. dockerd's `registry-mirrors` mirror Docker Hub only, and `insecure-registries` is where a
 * plain-HTTP mirror's host must be listed; both are one projection of "a registry and its mirrors".
 */
import { MIRROR_KEYS, parsedValueOf, type DaemonConfigDocument } from '../../config/document.js';
import { applyArrayChanges, type ArrayChange } from '../../config/edit.js';
import { BugError } from '../../errors.js';
import { normalizeInsecureEntry, normalizeMirror, validateMirror } from '../../mirror/url.js';
import { ownedInsecureEntries } from '../../mirror/ownership.js';
import { DEFAULT_REGISTRY, type EnginePlan, type MirrorRequest, type RegistrySettings } from '../engine.js';

/** The registry daemon.json's mirrors serve: Docker Hub, and nothing else. */
export const DAEMON_JSON_REGISTRY = DEFAULT_REGISTRY;

/** daemon.json's mirrors as the domain noun: docker.io's mirrors, each plain HTTP when it is http://. */
export function daemonJsonSettings(doc: DaemonConfigDocument): RegistrySettings[] {
  const mirrors = (doc.mirrors ?? []).map((url) => ({ url, plainHttp: url.trim().toLowerCase().startsWith('http://') }));
  return [{ registry: DAEMON_JSON_REGISTRY, mirrors }];
}

/**
 * Adds a mirror to `registry-mirrors`, plus an `insecure-registries` entry for an http:// mirror, touching no
 * other byte; `undefined` when both are there already (compared normalised).
 */
export function planDaemonJsonAdd(doc: DaemonConfigDocument, request: MirrorRequest, owned: string[]): EnginePlan | undefined {
  const { mirror, position } = request;
  const changes: ArrayChange[] = [];
  const nextOwned = ownedInsecureEntries(owned, doc.insecureRegistries ?? []);
  if (!(doc.mirrors ?? []).some((m) => normalizeMirror(m) === mirror.url)) {
    changes.push({ key: 'registry-mirrors', insert: mirror.url, position });
  }
  const host = normalizeInsecureEntry(mirror.host);
  if (mirror.insecure && request.insecure && !(doc.insecureRegistries ?? []).some((e) => normalizeInsecureEntry(e) === host)) {
    changes.push({ key: 'insecure-registries', insert: mirror.host, position: 'last' });
    nextOwned.push(mirror.host);
  }
  if (changes.length === 0) return undefined;
  return { writes: [{ file: doc.file, bytes: applyArrayChanges(doc, changes) }], owned: nextOwned, newMirrors: [mirror.url], warnings: [...mirror.warnings] };
}

/**
 * Removes a mirror (normalised URL) from `registry-mirrors`. Its `insecure-registries` entry goes too, but only
 * when dockmirror added it, the file still holds it as dockmirror wrote it, and no remaining plain-HTTP mirror
 * uses that host; an entry the user had before, or rewrote by hand, stays (see mirror/ownership.ts).
 */
export function planDaemonJsonRemove(doc: DaemonConfigDocument, wanted: string, owned: string[]): EnginePlan | undefined {
  const mirrors = doc.mirrors ?? [];
  const indexes = mirrors.flatMap((m, i) => (normalizeMirror(m) === wanted ? [i] : []));
  if (indexes.length === 0) return undefined;
  // Remove from the end so earlier indexes stay valid.
  const changes: ArrayChange[] = indexes.reverse().map((i) => ({ key: 'registry-mirrors', removeIndex: i }));
  const remaining = mirrors.filter((_, i) => !indexes.includes(i));
  const host = hostOf(wanted);
  // Only a plain-HTTP mirror needs the insecure entry; an https one on the same host does not keep it.
  const stillUsed = remaining.some((m) => normalizeMirror(m).startsWith('http://') && hostOf(normalizeMirror(m)) === host);
  const insecure = doc.insecureRegistries ?? [];
  const mine = ownedInsecureEntries(owned, insecure);
  let nextOwned = mine;
  const warnings: string[] = [];
  if (host && !stillUsed) {
    const forHost = insecure.map((e, i) => [e, i] as const).filter(([e]) => normalizeInsecureEntry(e) === host);
    const at = forHost.filter(([e]) => mine.includes(e)).map(([, i]) => i);
    changes.push(...at.reverse().map((i) => ({ key: 'insecure-registries', removeIndex: i })));
    nextOwned = mine.filter((e) => normalizeInsecureEntry(e) !== host);
    const rewritten = forHost.filter(([e]) => !mine.includes(e) && owned.some((o) => normalizeInsecureEntry(o) === host));
    for (const [entry] of rewritten) warnings.push(`Kept insecure-registries entry ${JSON.stringify(entry)}: dockmirror added ${host}, but the entry was rewritten by hand, so it is yours. Remove it yourself if you no longer want it.`);
  }
  return { writes: [{ file: doc.file, bytes: applyArrayChanges(doc, changes) }], owned: nextOwned, newMirrors: [], warnings };
}

/**
 * The last line of defence of "never touch anything else": before writing an edit, the new file's meaning
 * outside `registry-mirrors` and `insecure-registries` must equal the old one's.
 */
export function assertOnlyMirrorKeysChanged(doc: DaemonConfigDocument, after: Record<string, unknown>): void {
  const others = (value: Readonly<Record<string, unknown>>) => Object.fromEntries(Object.entries(value).filter(([key]) => !MIRROR_KEYS.includes(key as never)));
  // The strict read's own value, when it made one: a 1 MB file is not parsed a second time.
  const before = parsedValueOf(doc) ?? (doc.text.trim() === '' ? {} : (JSON.parse(doc.text) as Record<string, unknown>));
  if (!sameJson(others(before), others(after))) {
    throw new BugError(`${doc.file}: the edit would have changed more than the mirror keys; nothing was written.`, { location: { file: doc.file } });
  }
}

/** Whether `current` says what `written` says once absent mirror keys are read as `[]` (the reload's spelling). */
export function sameMeaningBesidesEmptyKeys(current: Buffer, written: Buffer): boolean {
  const parse = (bytes: Buffer): Record<string, unknown> | undefined => {
    try {
      const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
      return { 'registry-mirrors': [], 'insecure-registries': [], ...(text.trim() ? (JSON.parse(text) as object) : {}) };
    } catch {
      return undefined;
    }
  };
  const a = parse(current);
  const b = parse(written);
  return a !== undefined && b !== undefined && sameJson(a, b);
}

/**
 * Whether two values `JSON.parse` made mean the same: equal primitives (`Object.is`, so -0 is not 0), arrays
 * item by item, objects key by key in any order. What node:util's isDeepStrictEqual says for such values, at a
 * fraction of its cost on a large file (no prototype, symbol or cycle checks they cannot need), and with a
 * stack rather than recursion, so a file's depth is never the call stack's.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  // Pairs of objects still to compare; `same` settles primitives at once and queues the rest.
  const pending: [object, object][] = [];
  const same = (x: unknown, y: unknown): boolean => {
    if (Object.is(x, y)) return true;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    pending.push([x, y]);
    return true;
  };
  if (!same(a, b)) return false;
  for (let pair = pending.pop(); pair; pair = pending.pop()) {
    const [x, y] = pair;
    if (Array.isArray(x) !== Array.isArray(y)) return false;
    if (Array.isArray(x)) {
      const other = y as unknown[];
      if (x.length !== other.length) return false;
      for (let i = 0; i < x.length; i += 1) if (!same(x[i], other[i])) return false;
      continue;
    }
    const left = x as Record<string, unknown>;
    const right = y as Record<string, unknown>;
    const keys = Object.keys(left);
    if (keys.length !== Object.keys(right).length) return false;
    for (const key of keys) if (!Object.hasOwn(right, key) || !same(left[key], right[key])) return false;
  }
  return true;
}

/** The host[:port] as dockerd reads it (Go's net/url: `http://h:80` keeps its port), or `undefined` for a URL it refuses. */
function hostOf(url: string): string | undefined {
  try {
    return validateMirror(url).host;
  } catch {
    return undefined;
  }
}
