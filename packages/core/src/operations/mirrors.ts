import { applyArrayChanges, type ArrayChange, type Position } from '../config/edit.js';
import { readDaemonConfig } from '../config/io.js';
import { normalizeInsecureEntry, normalizeMirror, validateMirror } from '../mirror/url.js';
import { ownedInsecureEntries, ownedInsecureNow } from '../mirror/ownership.js';
import { resolveMirrorTarget, type MirrorTarget } from '../presets/index.js';
import { Journal } from '../state/journal.js';
import type { LiveRegistry } from '../daemon/registry-config.js';
import { readableState } from './read-only.js';
import { locateTarget, type CommonOptions, type MutationOptions } from './options.js';
import { liveRegistryIfAny } from './status.js';
import { runChange, type ChangeResult } from './transaction.js';

/** How a preset is pinned to an address (`--host`, `--port`), for the `pyrsia` and `local` presets. */
export interface PresetAddressOptions {
  /** The preset's host (`--host`). */
  host?: string;
  /** The preset's port (`--port`). */
  port?: number;
  /** The user presets file; default `~/.config/dockmirror/presets.json` or the platform's equivalent. */
  presetsFile?: string;
}

/** Options of {@link addMirror}. */
export interface AddMirrorOptions extends MutationOptions, PresetAddressOptions {
  /** The mirror: a URL, or a preset name such as `pyrsia`, `local` or `gcr`. */
  mirror: string;
  /** Where the mirror goes in `registry-mirrors`: `first` (default) or `last`. */
  position?: Position;
  /** Add an `insecure-registries` entry for an http:// mirror (default true; `--no-insecure` sets false). */
  insecure?: boolean;
}

/** Options of {@link removeMirror}. */
export interface RemoveMirrorOptions extends MutationOptions, PresetAddressOptions {
  /** The mirror URL (or preset name) to remove, compared in normalised form. */
  mirror: string;
}

/**
 * Adds a registry mirror to daemon.json, plus an `insecure-registries` entry for an http:// mirror, touching no
 * other byte. A mirror already present (in normalised form) changes nothing.
 */
export async function addMirror(options: AddMirrorOptions): Promise<ChangeResult & { target: MirrorTarget }> {
  const target = await resolveMirror(options, { remember: false });
  const mirror = validateMirror(target.url);
  const position = options.position ?? 'first';
  const args = { mirror: mirror.url, position, insecure: options.insecure ?? true, ...(target.preset ? { preset: target.preset } : {}) };
  const result = await runChange('mirror add', args, options, async ({ doc, owned }) => {
    const changes: ArrayChange[] = [];
    const nextOwned = ownedInsecureEntries(owned, doc.insecureRegistries ?? []);
    if (!(doc.mirrors ?? []).some((m) => normalizeMirror(m) === mirror.url)) {
      changes.push({ key: 'registry-mirrors', insert: mirror.url, position });
    }
    const wantsInsecure = mirror.insecure && options.insecure !== false;
    const host = normalizeInsecureEntry(mirror.host);
    if (wantsInsecure && !(doc.insecureRegistries ?? []).some((e) => normalizeInsecureEntry(e) === host)) {
      changes.push({ key: 'insecure-registries', insert: mirror.host, position: 'last' });
      nextOwned.push(mirror.host);
    }
    if (changes.length === 0) return undefined;
    return { bytes: applyArrayChanges(doc, changes), owned: nextOwned, newMirrors: [mirror.url], warnings: mirror.warnings, onlyMirrorKeys: true };
  });
  return { ...result, target };
}

/**
 * Removes a registry mirror from daemon.json. Its `insecure-registries` entry goes too, but only when
 * dockmirror added it, the file still holds it as dockmirror wrote it, and no remaining mirror uses that host;
 * an entry the user had before, or rewrote by hand, stays (see mirror/ownership.ts). A preset named without
 * --host/--port means the address it was last added with.
 */
export async function removeMirror(options: RemoveMirrorOptions): Promise<ChangeResult & { target: MirrorTarget }> {
  // A URL is removed as written (even one dockerd would refuse, so a broken entry can be taken out).
  const target = options.mirror.includes('://')
    ? { url: options.mirror, reasons: ['given as a URL'] }
    : await resolveMirror(options, { remember: true });
  const wanted = normalizeMirror(target.url);
  const args = { mirror: wanted, ...(target.preset ? { preset: target.preset } : {}) };
  const result = await runChange('mirror remove', args, options, async ({ doc, owned }) => {
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
    return { bytes: applyArrayChanges(doc, changes), owned: nextOwned, newMirrors: [], warnings, onlyMirrorKeys: true };
  });
  return { ...result, target };
}

/** How {@link resolveMirror} treats a preset named without --host or --port. */
export interface ResolveMirrorSettings {
  /**
   * Mean the address the preset was last added with to this daemon.json (from the journal), when that mirror
   * is still in the file: `verify local` and `remove local` after `add local --port 5001` mean port 5001.
   * `add` passes false: a preset added without flags means its default.
   */
  remember: boolean;
}

/**
 * Turns a preset name or URL into the mirror URL. Something that looks like an address without a scheme
 * (`127.0.0.1:5000`) gets dockerd's "no scheme" refusal rather than "unknown preset".
 */
export async function resolveMirror(options: AddMirrorOptions | RemoveMirrorOptions, settings: ResolveMirrorSettings): Promise<MirrorTarget> {
  const input = options.mirror.includes('://') ? options.mirror : options.mirror.trim();
  if (!input.includes('://') && /[.:/]/.test(input)) validateMirror(input);
  const target = await locateTarget(options);
  const resolved = await resolveMirrorTarget(input, resolveOptions(options, target.located.setup));
  if (!settings.remember || !resolved.preset || options.host !== undefined || options.port !== undefined) return resolved;
  const remembered = await rememberedAddress(resolved.preset, target.located.path, target.stateDir);
  if (!remembered || normalizeMirror(remembered.url) === normalizeMirror(resolved.url)) return resolved;
  return { url: remembered.url, preset: resolved.preset, ...(resolved.warnings ? { warnings: resolved.warnings } : {}),
    reasons: [`${resolved.preset}: ${remembered.url}, the address it was added with (dockmirror add, ${remembered.time}; backup ${remembered.id}); --host/--port choose another`] };
}

/**
 * The newest `mirror add` of this preset for this file whose mirror the file still lists. The journal records
 * the preset (`args.preset`) and the URL written (`args.mirror`).
 */
async function rememberedAddress(preset: string, file: string, stateDir: string): Promise<{ url: string; time: string; id: string } | undefined> {
  // Memory is a convenience: a journal or file that cannot be read leaves the preset at its default, and the
  // command that writes (remove) meets the same problem again in its own checks.
  const read = await Promise.all([new Journal(stateDir).committed(file), readDaemonConfig(file)]).catch(() => undefined);
  if (!read) return undefined;
  const [entries, doc] = read;
  const listed = new Set((doc.mirrors ?? []).map(normalizeMirror));
  for (const entry of [...entries].reverse()) {
    const { preset: p, mirror } = entry.args;
    if (entry.op !== 'mirror add' || typeof p !== 'string' || typeof mirror !== 'string') continue;
    if (p.toLowerCase() === preset.toLowerCase() && listed.has(normalizeMirror(mirror))) return { url: mirror, time: entry.time, id: entry.id };
  }
  return undefined;
}

function resolveOptions(options: AddMirrorOptions | RemoveMirrorOptions, setup: string): Parameters<typeof resolveMirrorTarget>[1] {
  return {
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.presetsFile === undefined ? {} : { presetsFile: options.presetsFile }),
    engineKind: setup === 'desktop' ? 'desktop' : 'native',
    ...(options.env ? { env: options.env } : {}),
    ...(options.platform ? { platform: options.platform } : {}),
    ...(options.homedir ? { homedir: options.homedir } : {}),
  };
}

/** The mirrors and insecure registries daemon.json holds. */
export interface MirrorList {
  /** The daemon.json read. */
  configFile: string;
  /** The kind of setup the file's location belongs to. */
  configSetup: string;
  /** Whether the file exists. */
  exists: boolean;
  /** `registry-mirrors` ([] when absent). */
  mirrors: string[];
  /** `insecure-registries` ([] when absent). */
  insecureRegistries: string[];
  /** The insecure entries dockmirror added and the file still holds as written (it would remove them with their mirror). */
  ownedInsecureRegistries: string[];
  /** What the running daemon uses (with `live`), or why it could not be asked. */
  live?: LiveRegistry | { error: string };
  /** What could not be read (the state folder, for a user who is not root) and what that leaves out. */
  warnings: string[];
}

/** Options of {@link listMirrors}. */
export interface ListMirrorsOptions extends CommonOptions {
  /** Also ask the running daemon what it uses (default true; `--no-live` sets false). */
  live?: boolean;
  /** Docker Engine endpoint (`--docker-host`). */
  dockerHost?: string;
}

/** Lists the mirrors and insecure registries in daemon.json, beside the live daemon's. Reads only; no lock. */
export async function listMirrors(options: ListMirrorsOptions = {}): Promise<MirrorList> {
  const target = await locateTarget(options);
  const [doc, live] = await Promise.all([
    readDaemonConfig(target.located.path),
    options.live === false ? undefined : liveRegistryIfAny(options),
  ]);
  const warnings: string[] = [];
  const owned = await readableState(() => ownedInsecureNow(new Journal(target.stateDir), doc), [], target.stateDir, 'which insecure-registries entries dockmirror added is not shown', warnings);
  return {
    ...(live ? { live } : {}),
    configFile: doc.file,
    configSetup: target.located.setup,
    exists: doc.exists,
    mirrors: doc.mirrors ?? [],
    insecureRegistries: doc.insecureRegistries ?? [],
    ownedInsecureRegistries: owned,
    warnings,
  };
}

/** The host[:port] as dockerd reads it (Go's net/url: `http://h:80` keeps its port), or `undefined` for a URL it refuses. */
function hostOf(url: string): string | undefined {
  try {
    return validateMirror(url).host;
  } catch {
    return undefined;
  }
}
