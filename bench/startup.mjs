// Start-up and edit timings (issue figures): dockmirror against bare node and a hello-world oclif CLI.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, root, table, timeCommand } from './lib.mjs';

const dir = mkdtempSync(path.join(tmpdir(), 'dm-bench-'));
const env = { ...process.env, DOCKER_HOST: `unix://${dir}/no-daemon.sock` };
delete env.DOCKMIRROR_CONFIG_FILE;
const small = path.join(dir, 'small.json');
writeFileSync(small, '{\n  "registry-mirrors": ["https://mirror.gcr.io"]\n}\n');
const big = path.join(dir, 'big.json');
const labels = Array.from({ length: 14_000 }, (_, i) => `"label-${i}=value-${'x'.repeat(40)}"`);
writeFileSync(big, `{\n  "debug": false,\n  "labels": [\n    ${labels.join(',\n    ')}\n  ]\n}\n`);

const node = timeCommand([process.execPath, '-e', '0']);
const hello = timeCommand([process.execPath, `${root}bench/hello-oclif/bin/run.js`, 'hello']);
const version = timeCommand([process.execPath, cli, '--version'], { env });
const list = timeCommand([process.execPath, cli, 'mirror', 'list', '--config-file', small], { env });
const importCore = timeCommand([process.execPath, '-e', "await import('@dockmirror/core')"], { cwd: `${root}apps/cli` }) - node;
const add = timeCommand([process.execPath, cli, 'mirror', 'add', 'http://127.0.0.1:5000', '--apply', 'none', '--config-file', big], {
  env,
  runs: 10,
  // Each run must really write: undo the previous run's edit first.
  before: () => rmSync(path.join(dir, '.dockmirror'), { recursive: true, force: true }) ?? writeFileSync(big, `{\n  "debug": false,\n  "labels": [\n    ${labels.join(',\n    ')}\n  ]\n}\n`),
});

const x = (ms) => `${(ms / node).toFixed(2)}x node`;
table('start-up (median wall ms)', [
  ['node -e 0', node.toFixed(1)],
  ['hello-world oclif', hello.toFixed(1), x(hello)],
  ['dockmirror --version', version.toFixed(1), `${x(version)}; target <= 4x`],
  ['dockmirror mirror list (no daemon)', list.toFixed(1), `${x(list)}; ${(((list / hello) - 1) * 100).toFixed(0)}% over oclif floor`],
  ["import('@dockmirror/core') beyond node", importCore.toFixed(1), 'target < 30 ms'],
  [`mirror add on ${(Buffer.byteLength(labels.join()) / 1e6).toFixed(2)} MB file`, add.toFixed(1), 'target < 150 ms'],
]);
rmSync(dir, { recursive: true, force: true });
