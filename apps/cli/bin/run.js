#!/usr/bin/env node
// Node's on-disk compile cache makes every start after the first skip parsing most of the CLI's JavaScript. It is
// turned on before the CLI loads, and only in a folder proven to belong to this user (see src/compile-cache.ts):
// never Node's default under $TMPDIR, where another user could plant code for root to run.
import { enableOwnCompileCache } from '../dist/compile-cache.js';

enableOwnCompileCache();
const { run } = await import('../dist/run.js');
await run(import.meta.url);
