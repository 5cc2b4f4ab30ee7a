/**
 * Comparing paths the way the platform's file system does. NTFS (Windows) and APFS/HFS+ on macOS's default
 * volume ignore case, and APFS also ignores Unicode normalisation, so `C:\CI\Daemon.json` and `c:\ci\daemon.json`
 * are one file there: a change made through one spelling must be found, rolled back and owned through the other.
 * Linux file systems compare bytes. Every place that matches one file to another (journal, state, ownership, the
 * daemon's own file) goes through {@link pathKey} or {@link samePath}.
 *
 * macOS is decided by platform, not by probing the volume: the default volume (and every volume the installer
 * makes) is case-insensitive, a case-sensitive APFS volume must be chosen by hand, and a false match there needs
 * two daemon.json files that differ only in case sharing one state folder. Probing would mean a stat per compare
 * and answers that change with the folder.
 * @module
 */
import path from 'node:path';

/** Whether `platform`'s (default) file system ignores case in file names. */
export function caseInsensitivePaths(platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'win32' || platform === 'darwin';
}

/**
 * The key two paths share exactly when the platform's file system takes them for the same name: on Windows
 * separators and `.`/`..` are normalised and every letter is upper-cased one character at a time (as NTFS's
 * upcase table does, so `ß` stays `ß`); on macOS the name is also decomposed (NFD), as APFS compares it; on
 * Linux the path is only normalised.
 */
export function pathKey(p: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return upcase(path.win32.normalize(p));
  if (platform === 'darwin') return upcase(path.posix.normalize(p).normalize('NFD'));
  return path.posix.normalize(p);
}

/** Whether `a` and `b` name the same file on `platform` (see {@link pathKey}); symlinks are not resolved. */
export function samePath(a: string, b: string, platform: NodeJS.Platform = process.platform): boolean {
  return a === b || pathKey(a, platform) === pathKey(b, platform);
}

/** Simple (one unit to one unit) upper-casing: a letter whose capital is longer, like `ß`, is left alone. */
function upcase(text: string): string {
  let out = '';
  for (const unit of text) {
    const upper = unit.toUpperCase();
    out += upper.length === unit.length ? upper : unit;
  }
  return out;
}
