import { styleText } from 'node:util';
import type { ChangeResult, MirrorTarget } from '@dockmirror/core';

type Style = 'red' | 'green' | 'yellow' | 'dim' | 'bold' | 'cyan';

/**
 * Colours text for the stream it is written to (stdout unless told). `styleText` already drops colour when that
 * stream is not a TTY and when NO_COLOR (or NODE_DISABLE_COLORS) is set, so piping and `NO_COLOR=1` both give
 * plain text, and `2> log` keeps the log plain even on a terminal.
 */
export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return styleText(style, text, { stream });
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
    return [...lines, result.diff.trimEnd(), paint('dim', '(dry run: nothing was written)')];
  }
  if (!result.changed) return [...lines, `${mark(true)} ${result.configFile} already says that; nothing changed.`];
  lines.push(`${mark(true)} ${done} in ${result.configFile}`);
  lines.push(`  mirrors: ${result.mirrors.length ? result.mirrors.join(', ') : '(none)'}`);
  if (result.insecureRegistries.length) lines.push(`  insecure registries: ${result.insecureRegistries.join(', ')}`);
  lines.push(`  backup: ${result.backup} ${paint('dim', '(undo with: dockmirror rollback)')}`);
  const { apply } = result;
  if (apply.method === 'none') lines.push(`${paint('yellow', '!')} daemon not told: ${apply.reason}`);
  else {
    lines.push(`${mark(true)} daemon ${apply.method === 'reload' ? 'reloaded' : 'restarted'} (${apply.reason}) and shows the change live after ${apply.elapsedMs} ms`);
    if (apply.live) lines.push(`  live mirrors: ${apply.live.mirrors.length ? apply.live.mirrors.join(', ') : '(none)'}`);
  }
  return lines;
}

/** How a preset became a URL, one line per reason; nothing for a plain URL. */
export function describeTarget(target: MirrorTarget): string[] {
  if (!target.preset) return [];
  return [`${paint('cyan', target.preset)} → ${target.url}`, ...target.reasons.map((r) => paint('dim', `  · ${r}`))];
}
