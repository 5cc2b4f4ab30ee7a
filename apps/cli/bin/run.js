#!/usr/bin/env node
// Node's on-disk compile cache makes every start after the first skip parsing most of the CLI's JavaScript.
import module from 'node:module';

module.enableCompileCache?.();
const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
