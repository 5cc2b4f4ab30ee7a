import path from 'node:path';

/** Where a file lives depends on the platform it is looked up for, not on the one dockmirror runs on. */
export interface PlatformContext {
  /** The operating system to compute paths for. */
  platform: NodeJS.Platform;
  /** Environment variables (XDG_CONFIG_HOME, APPDATA). */
  env: NodeJS.ProcessEnv;
  /** The user's home directory. */
  homedir: string;
}

/** The `path` flavour of a platform: Windows paths must be built with backslashes even when tested elsewhere. */
export function pathFor(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/**
 * The per-user configuration directory: `%APPDATA%` on Windows, `~/Library/Application Support` on macOS,
 * `$XDG_CONFIG_HOME` (only when absolute, as the XDG spec requires) or `~/.config` elsewhere.
 */
export function userConfigDir(ctx: PlatformContext): string {
  const p = pathFor(ctx.platform);
  if (ctx.platform === 'win32') {
    return ctx.env.APPDATA || p.join(ctx.homedir, 'AppData', 'Roaming');
  }
  if (ctx.platform === 'darwin') return p.join(ctx.homedir, 'Library', 'Application Support');
  const xdg = ctx.env.XDG_CONFIG_HOME;
  return xdg && p.isAbsolute(xdg) ? xdg : p.join(ctx.homedir, '.config');
}

/** The user presets file: `<config dir>/dockmirror/presets.json`. */
export function userPresetsPath(ctx: PlatformContext): string {
  return pathFor(ctx.platform).join(userConfigDir(ctx), 'dockmirror', 'presets.json');
}

/**
 * The Pyrsia CLI's own config file. Its directory names differ per platform because the CLI uses the Rust
 * `directories` crate: `pyrsia-cli` on Linux, the bundle id `rs.pyrsia-cli` on macOS, `pyrsia-cli\config` on Windows.
 */
export function pyrsiaCliConfigPath(ctx: PlatformContext): string {
  const p = pathFor(ctx.platform);
  const base = userConfigDir(ctx);
  if (ctx.platform === 'win32') return p.join(base, 'pyrsia-cli', 'config', 'default-config.toml');
  if (ctx.platform === 'darwin') return p.join(base, 'rs.pyrsia-cli', 'default-config.toml');
  return p.join(base, 'pyrsia-cli', 'default-config.toml');
}
