// `npm run bench`: every benchmark script in this folder, one after another.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
// speed.mjs first: issue 14's three ratios against the manual way, and where the time goes.
for (const script of ['speed.mjs', 'startup.mjs', 'rollback.mjs', 'apply.mjs', 'verify.mjs']) {
  if (!existsSync(`${here}${script}`)) continue;
  const { status } = spawnSync(process.execPath, [`${here}${script}`], { stdio: 'inherit' });
  if (status !== 0) process.exitCode = status ?? 1;
}
