import { homedir as osHomedir } from 'node:os';
import { userPresetsPath, type EngineKind, type PresetInfo } from '../presets/index.js';
import { listPresetsWithWarnings } from '../presets/resolve.js';
import { resolveTarget, type CommonOptions } from './options.js';

/** Options of {@link showPresets}. */
export interface ShowPresetsOptions extends CommonOptions {
  /** The user presets file; default `~/.config/dockmirror/presets.json` or the platform's equivalent. */
  presetsFile?: string;
}

/** What `dockmirror presets` shows. */
export interface PresetsReport {
  /** Where user presets are read from (it need not exist). */
  presetsFile: string;
  /** The engine setup the addresses were worked out for (from where daemon.json lives, as `add` does). */
  engineKind: EngineKind;
  /** Every preset, built-in first, with the URL it resolves to here and why. */
  presets: PresetInfo[];
  /** A presets file that is broken and was skipped, named with its line; the built-in presets are listed anyway. */
  warnings: string[];
}

/** Lists the presets as `add <preset>` would resolve them on this machine. Reads only. */
export async function showPresets(options: ShowPresetsOptions = {}): Promise<PresetsReport> {
  const { located } = resolveTarget(options);
  const engineKind: EngineKind = located.setup === 'desktop' ? 'desktop' : 'native';
  const ctx = {
    platform: options.platform ?? process.platform,
    env: options.env ?? process.env,
    homedir: options.homedir ?? osHomedir(),
  };
  const presetsFile = options.presetsFile ?? userPresetsPath(ctx);
  const { presets, warnings } = await listPresetsWithWarnings({ ...ctx, engineKind, presetsFile });
  return { presetsFile, engineKind, presets, warnings };
}
