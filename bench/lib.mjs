// Shared helpers of the bench scripts: wall time of whole commands, medians, a results table, and a GET on a
// test daemon's socket.
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const cli = `${root}apps/cli/bin/run.js`;

/** Median wall time in ms of running `argv` `runs` times (after `warmup` unmeasured runs). */
export function timeCommand(argv, { runs = 15, warmup = 2, env = process.env, cwd = root, before } = {}) {
  const times = [];
  for (let i = 0; i < warmup + runs; i += 1) {
    before?.();
    const start = process.hrtime.bigint();
    const result = spawnSync(argv[0], argv.slice(1), { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}: ${result.stderr}`);
    if (i >= warmup) times.push(ms);
  }
  return median(times);
}

/** The median of a list of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Prints rows of [label, value, note] as an aligned table. */
export function table(title, rows) {
  console.log(`\n${title}`);
  for (const [label, value, note = ''] of rows) console.log(`  ${label.padEnd(44)} ${String(value).padStart(10)}  ${note}`);
}

/**
 * GET `pathname` on the Engine API at unix socket `socket`: the body, or undefined when it does not answer 200
 * within `timeoutMs`. No keep-alive: a pooled connection to a dockerd that has since restarted would fail the
 * next request.
 */
export function socketGet(socket, pathname, timeoutMs = 2_000) {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: pathname, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
