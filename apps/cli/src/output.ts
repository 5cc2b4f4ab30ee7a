import { randomUUID } from 'node:crypto';
import { styleText } from 'node:util';
import type { ChangeResult, EngineMirrors, MirrorTarget } from '@dockmirror/core';

type Style = 'red' | 'green' | 'yellow' | 'dim' | 'bold' | 'cyan';

/**
 * Stands in for ESC in {@link paint}'s own colour codes until {@link toScreen} writes the line. It is random per
 * process, so no text from outside (a presets file, daemon.json, a registry, the Engine) can spell it and get an
 * escape of its own through. Made at the first colour code (node:crypto costs several ms to load): before that,
 * no text can hold it, and plain output (a pipe, NO_COLOR) never loads node:crypto.
 */
let ownEsc: string | undefined;

// Every C0 control but the tab, DEL, and every C1 control (0x9b is a one-byte CSI to many terminals).
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/**
 * Makes text safe to show in a terminal: each control character but the tab becomes a visible escape (`\x1b`,
 * `\x0d`, `\u009b`), so text from anyone else can neither move the cursor, clear the screen, nor forge a line
 * with a carriage return or a line feed. Text that is already escaped comes out unchanged.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => {
    const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
    return c < '\u0080' ? `\\x${hex}` : `\\u00${hex}`;
  });
}

/**
 * The one way a line reaches a person: every control character in it is escaped, then {@link paint}'s own
 * colour codes, and only those, become real escapes again. A line is one line; multi-line text is split first.
 */
export function toScreen(line: string): string {
  const escaped = escapeControls(line);
  return ownEsc === undefined ? escaped : escaped.replaceAll(ownEsc, '\u001b');
}

/**
 * Colours text for the stream it is written to (stdout unless told). `styleText` already drops colour when that
 * stream is not a TTY and when NO_COLOR (or NODE_DISABLE_COLORS) is set, so piping and `NO_COLOR=1` both give
 * plain text, and `2> log` keeps the log plain even on a terminal. The text is escaped first and the colour
 * codes are marked as dockmirror's own, so a painted string must be written through {@link toScreen}.
 */
export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  const styled = styleText(style, escapeControls(text), { stream });
  return styled.includes('\u001b') ? styled.replaceAll('\u001b', (ownEsc ??= `\u{E000}${randomUUID()}\u{E000}`)) : styled;
}

/** ✓ or ✗, coloured. */
export function mark(ok: boolean): string {
  return ok ? paint('green', '✓') : paint('red', '✗');
}

/** Human lines for the result of a command that changes daemon.json. */
export function describeChange(result: ChangeResult, done: string): string[] {
  const lines: string[] = [];
  for (const warning of result.warnings) lines.push(`${paint('yellow', '!')} ${warning}`);
  if (result.dryRun) {
    if (!result.changed) return [...lines, `${mark(true)} ${result.configFile} already says that; nothing would change.`];
    return [...lines, ...diffLines(result.diff), paint('dim', '(dry run: nothing was written)')];
  }
  if (!result.changed) {
    lines.push(`${mark(true)} ${result.configFile} already says that; nothing changed.`);
    // An explicit --apply reload|restart still makes the daemon use the file.
    if (result.apply.method !== 'none') lines.push(...describeApply(result.apply));
    return lines;
  }
  const others = result.engines.slice(1).filter((e) => e.files.length > 0);
  const written = result.engines[0]?.files ?? [];
  lines.push(`${mark(true)} ${done} in ${written.length > 0 ? written.join(', ') : result.configFile}`);
  lines.push(`  mirrors: ${result.mirrors.length ? result.mirrors.join(', ') : '(none)'}`);
  if (result.insecureRegistries.length) lines.push(`  insecure registries: ${result.insecureRegistries.join(', ')}`);
  lines.push(`  backup: ${result.backup} ${paint('dim', '(undo with: dockmirror rollback)')}`);
  // Docker's daemon not being told about daemon.json is a warning; containerd, podman and dockerd's certs.d
  // hosts.toml files are reread on every pull and need no telling.
  if (result.apply.method === 'none' && result.engine === 'docker' && (written.length === 0 || written.includes(result.configFile))) lines.push(`${paint('yellow', '!')} daemon not told: ${result.apply.reason}`);
  else if (result.apply.method === 'none') lines.push(`${mark(true)} ${result.apply.reason}`);
  else lines.push(...describeApply(result.apply));
  for (const engine of others) {
    lines.push(`${mark(true)} ${engine.engine}: ${engine.files.join(', ')}`);
    lines.push(...describeApply(engine.apply).map((line) => `  ${line}`));
  }
  return lines;
}

/** Human lines for the mirrors of each engine, per registry, as `mirror list --engine` shows them. */
export function describeEngines(engines: readonly (EngineMirrors | { engine: string; error: { message: string } })[]): string[] {
  const lines: string[] = [];
  for (const engine of engines) {
    if ('error' in engine) {
      lines.push(`${mark(false)} ${engine.engine}: ${engine.error.message}`);
      continue;
    }
    lines.push(`${engine.engine}: ${engine.configFile}`);
    for (const { registry, mirrors } of engine.registries) {
      lines.push(`  ${registry}:`);
      for (const [i, mirror] of mirrors.entries()) lines.push(`    ${i + 1}. ${mirror.url}${mirror.plainHttp ? paint('dim', ' (plain HTTP)') : ''}`);
      if (mirrors.length === 0) lines.push('    (none)');
    }
    if (engine.registries.length === 0) lines.push('  (no mirrors)');
    const view = engine.engineView;
    if (view && 'error' in view) lines.push(paint('dim', `  ${engine.engine}'s own view: ${view.error}`));
    else if (view) {
      // What the engine itself reports, where it differs from the files as dockmirror reads them.
      const said = (r: readonly { registry: string; mirrors: readonly { url: string }[] }[]) => JSON.stringify(r.map((x) => [x.registry, x.mirrors.map((m) => m.url)]));
      lines.push(said(view.registries) === said(engine.registries) ? paint('dim', `  ${engine.engine} itself reports the same`) : `  ${paint('yellow', '!')} ${engine.engine} itself reports: ${view.registries.map((r) => `${r.registry} → ${r.mirrors.map((m) => m.url).join(', ') || '(none)'}`).join('; ') || '(no mirrors)'}`);
    }
  }
  return lines;
}

/** Human lines for how the daemon was told and what it shows live. */
export function describeApply(apply: ChangeResult['apply']): string[] {
  if (apply.method === 'none') return [`${mark(true)} ${apply.reason}`];
  const lines = [`${mark(true)} daemon ${apply.method === 'reload' ? 'reloaded' : 'restarted'} (${apply.reason}) and shows the change live after ${apply.elapsedMs} ms`];
  // Where the live view comes from, so the claim is no stronger than its evidence.
  const from = apply.liveFrom === 'reload event' ? '; reported by its reload event' : apply.liveFrom ? `; shown by ${apply.liveFrom}` : '';
  if (apply.live) lines.push(`  live mirrors: ${apply.live.mirrors.length ? apply.live.mirrors.join(', ') : '(none)'}${from}`);
  return lines;
}

/**
 * A unified diff as lines to show. Only a real line break (LF or CRLF) ends a line: a lone CR, which JSON allows
 * as whitespace, stays inside its line, where {@link toScreen} shows it as `\x0d` instead of letting it overwrite.
 */
export function diffLines(diff: string): string[] {
  return diff.trimEnd().split(/\r?\n/);
}

/** How a preset became a URL, one line per reason; nothing for a plain URL. */
export function describeTarget(target: MirrorTarget): string[] {
  // A broken presets file was skipped: said first, so it is seen even when the built-in preset did the job.
  const warnings = (target.warnings ?? []).map((w) => `${paint('yellow', '!')} ${w}`);
  if (!target.preset) return warnings;
  return [...warnings, `${paint('cyan', target.preset)} → ${target.url}`, ...target.reasons.map((r) => paint('dim', `  · ${r}`))];
}
