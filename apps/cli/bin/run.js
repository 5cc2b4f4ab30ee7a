#!/usr/bin/env node
// Node's on-disk compile cache makes every start after the first skip parsing most of the CLI's JavaScript.
import module from 'node:module';

module.enableCompileCache?.();
const { run } = await import('../dist/run.js');
await run(import.meta.url);
