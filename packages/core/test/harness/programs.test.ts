// The engine-starting helpers fail loudly, naming what to install, when a program they need is missing: the
// test file then counts as failed (see .ci/summary.mjs), it is never skipped.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findProgram, requirePrograms } from '../support/programs.js';
import { startRegistry } from '../support/registry.js';
import { startTestbed } from '../support/testbed.js';

describe('requirePrograms', () => {
  it('names every missing program and the packages to install', () => {
    expect(() => requirePrograms('the test dockerd', ['dockerd', { program: 'dm-no-such-program', install: 'dm-pkg' }, { program: 'dm-no-such-other', install: 'dm-pkg' }]))
      .toThrow(/^the test dockerd cannot start: dm-no-such-program, dm-no-such-other not found on PATH: apt-get install dm-pkg$/);
    expect(() => requirePrograms('x', [{ program: '/nonexistent/docker', install: 'docker.io' }])).toThrow('x cannot start: /nonexistent/docker not found: apt-get install docker.io');
    expect(() => requirePrograms('x', ['tar'])).not.toThrow();
  });

  it('finds a program only where PATH says, and only when it can be run', () => {
    expect(findProgram('tar', '/nonexistent:/usr/bin')).toBe('/usr/bin/tar');
    expect(findProgram('tar', '/nonexistent')).toBeUndefined();
    const dir = mkdtempSync(path.join(tmpdir(), 'dm-programs-'));
    try {
      writeFileSync(path.join(dir, 'plain'), 'x', { mode: 0o644 });
      writeFileSync(path.join(dir, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
      expect(findProgram('plain', dir)).toBeUndefined();
      expect(findProgram('tool', dir)).toBe(path.join(dir, 'tool'));
      expect(findProgram(dir, '')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the engine helpers on a machine without the engines', () => {
  const withPath = async <T>(value: string, run: () => Promise<T>): Promise<T> => {
    const saved = process.env.PATH;
    process.env.PATH = value;
    try {
      return await run();
    } finally {
      process.env.PATH = saved;
    }
  };

  it('startTestbed fails with "dockerd not found" and what to install, and starts nothing', async () => {
    await expect(withPath('/nonexistent', () => startTestbed({ registry: true }))).rejects.toThrow(
      /^the test dockerd cannot start: dockerd, containerd, curl, setsid, ldd, tar, docker-registry not found on PATH: apt-get install docker\.io containerd curl util-linux libc-bin tar docker-registry$/,
    );
  });

  it('startRegistry fails with "docker-registry not found" and what to install', async () => {
    await expect(withPath('/nonexistent', () => startRegistry())).rejects.toThrow('the test registry cannot start: docker-registry not found on PATH: apt-get install docker-registry');
  });
});
