// The suite never reads the host's own settings: every test file runs with a temp HOME (the vitest setup file),
// and every spawned dockmirror gets one too (support/env.ts). These tests fail if either stops being true.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliEnv, cliHome } from './support/env.js';

const BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url));
const HOST_VARIABLES = /^(DOCKMIRROR_|DOCKER_HOST$|DOCKER_CONTEXT$)/;

describe('a hermetic suite', () => {
  it('each test file runs with a temp HOME, XDG_CONFIG_HOME and DOCKER_CONFIG, and no host Docker variables', () => {
    const home = process.env.HOME!;
    expect(home).not.toBe(userInfo().homedir);
    expect(path.dirname(home)).toBe(tmpdir());
    expect(process.env.XDG_CONFIG_HOME).toBe(path.join(home, '.config'));
    expect(process.env.DOCKER_CONFIG).toBe(path.join(home, '.docker'));
    expect(Object.keys(process.env).filter((k) => HOST_VARIABLES.test(k))).toEqual([]);
  });

  it('a spawned dockmirror reads its presets from the temp home, so never from the real one', () => {
    const env = cliEnv();
    expect(env.HOME).toBe(cliHome());
    expect(path.dirname(cliHome())).toBe(tmpdir());
    const config = path.join(cliHome(), '.config', 'dockmirror');
    mkdirSync(config, { recursive: true });
    writeFileSync(path.join(config, 'presets.json'), '{"hermetic-canary": {"url": "https://canary.example"}}\n');
    const out = JSON.parse(
      execFileSync(process.execPath, [BIN, 'presets', '--json', '--config-file', path.join(cliHome(), 'daemon.json')], { env, encoding: 'utf8' }),
    ) as { presetsFile: string; presets: { name: string; source: string }[] };
    expect(out.presetsFile).toBe(path.join(config, 'presets.json'));
    expect(out.presets.map((p) => `${p.name}:${p.source}`)).toContain('hermetic-canary:user');
  });
});
