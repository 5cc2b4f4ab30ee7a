// How long `dockmirror rollback` takes on a 1 MB daemon.json: CLI wall time, median of 10 runs.
// Assumes the build exists (npx tsc -p packages/core && npx tsc -p apps/cli && oclif manifest).
// Usage: node bench/rollback.mjs [runs]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../apps/cli/bin/run.js', import.meta.url));
const runs = Number(process.argv[2] ?? 10);
const dir = mkdtempSync(path.join(tmpdir(), 'dm-bench-rollback-'));
const file = path.join(dir, 'daemon.json');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DOCKMIRROR_')));
env.NO_COLOR = '1';

function dockmirror(...args) {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...args, '--config-file', file, '--state-dir', path.join(dir, 'state')], { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`dockmirror ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const labels = [];
  for (let n = 0, size = 0; size < 1_000_000; n++) {
    labels.push(`label-${n}=${'x'.repeat(40)}`);
    size += labels[n].length + 6; // quotes, comma, indent
  }
  writeFileSync(file, `${JSON.stringify({ debug: true, 'registry-mirrors': ['https://base.example'], labels }, null, 2)}\n`);
  dockmirror('mirror', 'add', 'http://10.0.0.1:5000', '--apply', 'none');
  // Each rollback undoes the one before, so every run restores a full 1 MB file and journals it.
  const times = Array.from({ length: runs }, () => dockmirror('rollback', '--apply', 'none'));
  // The same process doing no work on the file, to show what is start-up and what is rollback.
  const baseline = Array.from({ length: runs }, () => dockmirror('backups'));
  const size = statSync(file).size;
  console.log(`rollback on a ${(size / 1e6).toFixed(2)} MB daemon.json: median ${median(times).toFixed(0)} ms over ${runs} runs`);
  console.log(`  all runs (ms): ${times.map((t) => t.toFixed(0)).join(' ')}`);
  console.log(`  baseline \`dockmirror backups\` (start-up + reading the journal): median ${median(baseline).toFixed(0)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
