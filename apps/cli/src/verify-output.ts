import type { Check, VerifyReport, VerifyResult } from '@dockmirror/core';
import { ALREADY_EXISTS_NOTE } from '@dockmirror/core';
import { mark, paint } from './output.js';

const WIDTH = 7;

/** Human lines for `mirror verify`: a ✓/✗ checklist per mirror, why and what to do under each failure. */
export function describeVerify(report: VerifyReport): string[] {
  const lines: string[] = [];
  if (report.engines) {
    // Per engine: which files and registry its results are about, then its mirrors.
    for (const engine of report.engines) {
      lines.push(paint('bold', `${engine.engine} · ${engine.registry}`) + paint('dim', ` (${engine.files.join(', ')})`));
      if (engine.note) lines.push(paint('dim', `  - ${engine.note}`), '');
      for (const result of engine.results) lines.push(...describeResult(result), '');
    }
  } else {
    for (const result of report.results) lines.push(...describeResult(result), '');
  }
  const failed = report.results.filter((r) => !r.ok).length;
  const total = report.results.length;
  const noun = total === 1 ? 'mirror' : 'mirrors';
  // The note is about docker pull's output, so only Docker's pulls carry it.
  const pulled = report.results.some((r) => (r.engine ?? 'docker') === 'docker' && r.checks.some((c) => c.name === 'pull' && !c.skipped));
  if (pulled) lines.push(paint('dim', `note: ${ALREADY_EXISTS_NOTE}`));
  lines.push(failed === 0 ? `${mark(true)} ${total} ${noun} verified` : `${mark(false)} ${failed} of ${total} ${noun} failed verification`);
  return lines;
}

function describeResult(result: VerifyResult): string[] {
  const head = result.preset ? `${paint('cyan', result.preset)} → ${result.mirror}` : result.mirror;
  const lines = [`${mark(result.ok)} ${paint('bold', head)}`];
  if (result.preset) for (const reason of result.reasons ?? []) lines.push(paint('dim', `    · ${reason}`));
  for (const check of result.checks) lines.push(...describeCheck(check));
  return lines;
}

function describeCheck(check: Check): string[] {
  const label = check.name.padEnd(WIDTH);
  if (check.skipped) return [paint('dim', `  - ${label}${check.summary}`)];
  const lines = [`  ${mark(check.ok)} ${label}${check.summary}`];
  const pad = ' '.repeat(4 + WIDTH);
  if (!check.ok) {
    if (check.why) lines.push(`${pad}${paint('dim', 'why:')} ${check.why}`);
    if (check.fix) lines.push(`${pad}${paint('dim', 'fix:')} ${check.fix}`);
  }
  // Briefly, how a passed check knows ("inferred": from dockerd's rules, not from the mirror); a failed one has why.
  if (check.ok && check.proof) lines.push(`${pad}${paint('dim', check.proof.basis === 'inferred' ? 'how (inferred):' : 'how:')} ${check.proof.how}`);
  const log = check.data?.inspectLog as { entries?: unknown[] } | undefined;
  for (const entry of log?.entries ?? []) lines.push(`${pad}${paint('dim', 'log:')} ${oneLine(entry)}`);
  return lines;
}

function oneLine(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}
