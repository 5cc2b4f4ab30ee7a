import { homedir as osHomedir } from 'node:os';
import { UsageError } from '../errors.js';
import { validateMirror } from '../mirror/url.js';
import { BUILTIN_PRESETS, type PresetDefinition } from './builtin.js';
import { dialHost, hostPort, type EngineKind } from './dial-rules.js';
import { userPresetsPath, type PlatformContext } from './paths.js';
import { findPyrsiaAddress, parsePort } from './pyrsia-address.js';
import { runCommand as defaultRunCommand, type RunCommand } from './run-command.js';
import { loadUserPresetsOrWarn, type UserPreset } from './user-presets.js';

/** Options for {@link resolveMirrorTarget} and {@link listPresets}. All default to this machine. */
export interface ResolveOptions {
  /** `--host`: the node's host, for the `pyrsia` and `local` presets. */
  host?: string;
  /** `--port`: the node's port, for the `pyrsia` and `local` presets. */
  port?: number | string;
  /** Where the engine runs (from the daemon setup); `native` when not given. */
  engineKind?: EngineKind;
  /** Platform whose config paths apply. */
  platform?: NodeJS.Platform;
  /** Environment (PATH for the `pyrsia` CLI, XDG_CONFIG_HOME, APPDATA). */
  env?: NodeJS.ProcessEnv;
  /** Home directory. */
  homedir?: string;
  /** How to run `pyrsia config --show`; defaults to execFile without a shell and a 3 s timeout. */
  runCommand?: RunCommand;
  /** The user presets file; defaults to the platform's config dir `dockmirror/presets.json`. */
  presetsFile?: string;
}

/** What a preset name or URL resolved to. */
export interface MirrorTarget {
  /** The mirror URL to write (normalised: lowercase scheme and host, no trailing slash). */
  url: string;
  /** The preset's name, when the input was a preset. */
  preset?: string;
  /** How the URL was chosen, one human line each. */
  reasons: string[];
  /** What the user should know: a presets file that is broken and was skipped (named with its line). */
  warnings?: string[];
}

/**
 * Turns a preset name or a mirror URL into the URL to write. Anything containing `://` is a URL; any other input
 * must name a built-in or user preset, else {@link UsageError} listing the presets.
 */
export async function resolveMirrorTarget(input: string, opts: ResolveOptions = {}): Promise<MirrorTarget> {
  const text = input.trim();
  if (input.includes('://')) {
    if (opts.host !== undefined || opts.port !== undefined) {
      throw new UsageError('--host and --port apply only to the pyrsia and local presets, not to a URL.', { hint: 'Put the host and port in the URL.' });
    }
    // Untrimmed: dockerd would not trim it either, so a stray space is refused rather than silently dropped.
    const mirror = validateMirror(input);
    return { url: mirror.url, reasons: ['given as a URL', ...mirror.warnings] };
  }
  const ctx = context(opts);
  const { entries: all, warnings } = await allPresets(ctx, opts.presetsFile);
  const def = all.find((p) => p.def.name.toLowerCase() === text.toLowerCase());
  if (!def) {
    const names = all.map((p) => p.def.name);
    throw new UsageError(`Unknown preset "${text}". Presets: ${names.join(', ')}.`, {
      // The preset may well be in the user's file: then the file's own problem is the thing to fix.
      hint: warnings[0] ?? 'Give one of the presets, or a full mirror URL such as https://mirror.example.com.',
      details: { presets: names, ...(warnings.length > 0 ? { warnings } : {}) },
    });
  }
  const resolved = await resolveDefinition(def.def, ctx, opts);
  return { url: resolved.url, preset: def.def.name, reasons: [...def.notes, ...resolved.reasons], ...(warnings.length > 0 ? { warnings } : {}) };
}

/** One preset as `dockmirror presets` shows it. */
export interface PresetInfo {
  /** Preset name. */
  name: string;
  /** The URL it resolves to on this machine. */
  url: string;
  /** One-line description. */
  description: string;
  /** Whether it ships with dockmirror or comes from the user's presets file. */
  source: 'built-in' | 'user';
  /** How the URL was chosen. */
  reasons: string[];
}

/** Lists every preset (built-in first, then user) with the URL it resolves to here. */
export async function listPresets(opts: Omit<ResolveOptions, 'host' | 'port'> = {}): Promise<PresetInfo[]> {
  return (await listPresetsWithWarnings(opts)).presets;
}

/** {@link listPresets}, with the warning about a broken presets file that was skipped (for `dockmirror presets`). */
export async function listPresetsWithWarnings(opts: Omit<ResolveOptions, 'host' | 'port'> = {}): Promise<{ presets: PresetInfo[]; warnings: string[] }> {
  const ctx = context(opts);
  const { entries: all, warnings } = await allPresets(ctx, opts.presetsFile);
  const presets: PresetInfo[] = [];
  for (const { def, source, notes } of all) {
    const r = await resolveDefinition(def, ctx, opts);
    presets.push({ name: def.name, url: r.url, description: def.description, source, reasons: [...notes, ...r.reasons] });
  }
  return { presets, warnings };
}

interface Context extends PlatformContext {
  engine: EngineKind;
  engineGiven: boolean;
  run: RunCommand;
}

function context(opts: ResolveOptions): Context {
  return {
    platform: opts.platform ?? process.platform,
    env: opts.env ?? process.env,
    homedir: opts.homedir ?? osHomedir(),
    engine: opts.engineKind ?? 'native',
    engineGiven: opts.engineKind !== undefined,
    run: opts.runCommand ?? defaultRunCommand,
  };
}

interface Entry {
  def: PresetDefinition;
  source: 'built-in' | 'user';
  notes: string[];
}

async function allPresets(ctx: Context, presetsFile: string | undefined): Promise<{ entries: Entry[]; warnings: string[] }> {
  const file = presetsFile ?? userPresetsPath(ctx);
  const { presets: user, warning } = await loadUserPresetsOrWarn(file);
  const byName = new Map(user.filter((u) => u.overrides).map((u): [string, UserPreset] => [u.name.toLowerCase(), u]));
  const entries: Entry[] = BUILTIN_PRESETS.map((def) => {
    const u = byName.get(def.name);
    if (!u) return { def, source: 'built-in', notes: [] };
    return { def: asDef(u), source: 'user', notes: [`user preset "${u.name}" from ${file} overrides the built-in one ("override": true)`] };
  });
  for (const u of user) {
    if (!u.overrides) entries.push({ def: asDef(u), source: 'user', notes: [`user preset from ${file}`] });
  }
  return { entries, warnings: warning ? [warning] : [] };
}

function asDef(u: UserPreset): PresetDefinition {
  return { kind: 'url', name: u.name, description: u.description, url: u.url };
}

async function resolveDefinition(def: PresetDefinition, ctx: Context, opts: ResolveOptions): Promise<{ url: string; reasons: string[] }> {
  const port = opts.port === undefined ? undefined : parsePort(opts.port);
  if (opts.port !== undefined && port === undefined) {
    throw new UsageError(`--port ${String(opts.port)} is not a TCP port.`, { hint: 'Give a number from 1 to 65535.' });
  }
  const host = opts.host?.trim();
  if (host !== undefined && /[/\s@?#]/.test(host)) {
    throw new UsageError(`--host ${JSON.stringify(opts.host)} is not a host name or IP address.`, { hint: 'Give only the host, e.g. 127.0.0.1; put a full URL in place of the preset instead.' });
  }
  if (def.kind === 'url') {
    if (host !== undefined || port !== undefined) {
      throw new UsageError(`--host and --port do not apply to the ${def.name} preset (a fixed URL).`, { hint: 'Drop the flags, or give a URL.' });
    }
    return { url: def.url, reasons: [`${def.name} is ${def.url}`] };
  }
  const engineNote = ctx.engineGiven ? `${ctx.engine} engine` : 'engine setup not given; assuming a native engine on this machine';
  if (def.kind === 'host-port') {
    const h = host ?? def.defaultHost;
    const p = port ?? def.defaultPort;
    const reasons = [`${def.name}: host ${h}${host === undefined ? ' (default)' : ' (--host)'}, port ${p}${port === undefined ? ' (default)' : ' (--port)'}`];
    if (ctx.engine === 'desktop') reasons.push('Docker Desktop: 127.0.0.1 is the engine VM itself, which reaches a registry container that publishes the port');
    return finish(`http://${hostPort(h, p)}`, reasons);
  }
  const found = await findPyrsiaAddress({ ...ctx, host, port, runCommand: ctx.run });
  const dial = dialHost(found.host, ctx.engine);
  return finish(`http://${hostPort(dial.host, found.port)}`, [...found.reasons, `${engineNote}: ${dial.reason}`]);
}

function finish(url: string, reasons: string[]): { url: string; reasons: string[] } {
  const mirror = validateMirror(url);
  return { url: mirror.url, reasons: [...reasons, `mirror ${mirror.url}`, ...mirror.warnings] };
}
