#!/usr/bin/env node
// The framework floor: a one-command oclif CLI on the same Node and @oclif/core as dockmirror.
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
