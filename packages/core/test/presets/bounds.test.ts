// Hostile presets and Pyrsia inputs: a presets.json that is a FIFO, a link to /dev/zero, or huge is refused at
// once (INVALID_CONFIG, naming the file) instead of hanging or filling memory; a Pyrsia config like that is a
// source skipped with a reason; a `pyrsia` on PATH that another user could have planted is not run, and one
// that never finishes is given up on.
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { loadUserPresets, resolveMirrorTarget } from '../../src/presets/index.js';
import { MAX_PRESETS_BYTES } from '../../src/presets/user-presets.js';
import { findTrustedProgram, runCommand, untrustedProgramReason } from '../../src/presets/run-command.js';
import { writeFakePyrsiaCli } from '../support/pyrsia-node.js';

const uid = process.getuid?.() ?? 0;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-bounds-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function refusal(file: string): Promise<InvalidConfigError> {
  const error = await loadUserPresets(file).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidConfigError);
  return error as InvalidConfigError;
}

describe('the presets file', () => {
  it('a FIFO is refused at once, not waited on', async () => {
    const fifo = path.join(dir, 'presets.json');
    execFileSync('mkfifo', [fifo]);
    const error = await refusal(fifo);
    expect(error.message).toBe(`The presets file ${fifo} is not a regular file (a FIFO, a device or a folder).`);
    expect(error.location).toEqual({ file: fifo });
    expect(error.hint).toMatch(/remove it to use only the built-in presets/);
  });

  it('a symlink to /dev/zero is refused without reading it', async () => {
    const link = path.join(dir, 'presets.json');
    await symlink('/dev/zero', link);
    const before = process.memoryUsage().rss;
    expect((await refusal(link)).message).toMatch(/is not a regular file/);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('a file over the bound is refused; one at the bound is read', async () => {
    const file = path.join(dir, 'presets.json');
    const head = '{"team":{"url":"https://mirror.team.example","description":"';
    const body = (size: number) => `${head}${'x'.repeat(size - head.length - 3)}"}}`;
    await writeFile(file, body(MAX_PRESETS_BYTES));
    expect(Buffer.byteLength(body(MAX_PRESETS_BYTES))).toBe(MAX_PRESETS_BYTES);
    expect((await loadUserPresets(file)).map((p) => p.name)).toEqual(['team']);
    await writeFile(file, body(MAX_PRESETS_BYTES + 1));
    expect((await refusal(file)).message).toBe(`The presets file ${file} is larger than ${MAX_PRESETS_BYTES} bytes.`);
  });

  it('a file nested 100,000 levels deep is refused with its position, not a stack overflow', async () => {
    const file = path.join(dir, 'presets.json');
    await writeFile(file, `{"a":\n${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    const error = await refusal(file);
    expect(error.message).toBe(`${file}:2: nested deeper than 1000 levels`);
    expect(error.location).toEqual({ file, line: 2, column: 1000 });
  });
});

describe('the Pyrsia CLI config file', () => {
  it('a FIFO or /dev/zero link there is skipped with a reason, and the defaults fill in', async () => {
    const home = path.join(dir, 'home');
    const config = path.join(home, '.config', 'pyrsia-cli', 'default-config.toml');
    await mkdir(path.dirname(config), { recursive: true });
    for (const make of [() => execFileSync('mkfifo', [config]), () => symlink('/dev/zero', config)]) {
      await rm(config, { force: true });
      await make();
      const target = await resolveMirrorTarget('pyrsia', { platform: 'linux', homedir: home, env: { PATH: path.join(dir, 'nobin') }, presetsFile: path.join(dir, 'none.json') });
      expect(target.url).toBe('http://127.0.0.1:7888');
      expect(target.reasons).toContain(`ignoring ${config}: not a regular file`);
    }
  });
});

describe('a pyrsia program on PATH', () => {
  it('is run when it and every folder above it are root-owned and not writable by others', async () => {
    const bin = path.join(dir, 'bin');
    await writeFakePyrsiaCli(bin, { quotes: 'double', host: 'localhost', port: '17888' });
    expect(await findTrustedProgram('pyrsia', { PATH: `relative:${bin}` })).toBe(path.join(bin, 'pyrsia'));
    const out = await runCommand('pyrsia', ['config', '--show'], { env: { PATH: bin }, timeoutMs: 5000 });
    expect(out.stdout).toContain('17888');
  });

  it('planted by nobody (own file, or own folder) is not run by root: the probe is skipped with a reason', async () => {
    // Root against nobody is the attack; as any other user it proves nothing, so it fails rather than skips.
    expect(uid, 'this attack test runs as root (as .ci/run does): run the suite with sudo').toBe(0);
    const bin = path.join(dir, 'bin');
    const proof = path.join(dir, 'ran');
    await mkdir(bin, { mode: 0o755 });
    await chmod(dir, 0o755);
    const script = `#!/bin/sh\ntouch '${proof}'\nprintf 'host = "evil.example"\\nport = 1\\n'\n`;
    // 1. A file nobody owns, in root's folder.
    await writeFile(path.join(bin, 'pyrsia'), script, { mode: 0o755 });
    await chown(path.join(bin, 'pyrsia'), 65534, 65534);
    const options = { platform: 'linux' as const, homedir: path.join(dir, 'home'), env: { PATH: bin }, presetsFile: path.join(dir, 'none.json') };
    let target = await resolveMirrorTarget('pyrsia', options);
    expect(target.url).toBe('http://127.0.0.1:7888');
    expect(target.reasons).toContain(`pyrsia config --show did not run: ${path.join(bin, 'pyrsia')} is not run: ${path.join(bin, 'pyrsia')} belongs to uid 65534, not to root or to you`);
    // 2. A root-owned file in a folder nobody owns, planted there by nobody through a symlink from a good folder.
    const evil = path.join(dir, 'evil');
    await chmod(dir, 0o777); // let nobody make its folder; the folder above stays root's
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'mkdir', '-m', '0755', evil]);
    await chmod(dir, 0o755);
    await writeFile(path.join(evil, 'pyrsia'), script, { mode: 0o755 });
    await rm(path.join(bin, 'pyrsia'));
    await symlink(path.join(evil, 'pyrsia'), path.join(bin, 'pyrsia'));
    target = await resolveMirrorTarget('pyrsia', options);
    expect(target.reasons).toContain(`pyrsia config --show did not run: ${path.join(bin, 'pyrsia')} is not run: ${evil} belongs to uid 65534, not to root or to you`);
    // 3. A world-writable folder on PATH, even with the sticky bit: anyone could have put the program there.
    await rm(path.join(bin, 'pyrsia'));
    await writeFile(path.join(bin, 'pyrsia'), script, { mode: 0o755 });
    await chmod(bin, 0o1777);
    target = await resolveMirrorTarget('pyrsia', options);
    expect(target.reasons).toContain(`pyrsia config --show did not run: ${path.join(bin, 'pyrsia')} is not run: ${bin} is writable by everyone (mode 1777)`);
    expect(await readdir(dir)).not.toContain('ran');
  });

  it('a group- or world-writable program is refused; a sticky /tmp above a good folder is not a reason', async () => {
    const bin = path.join(dir, 'bin');
    const file = await writeFakePyrsiaCli(bin, { quotes: 'double', host: 'localhost', port: '1' });
    expect(await untrustedProgramReason(file)).toBeUndefined(); // dir is in the sticky /tmp
    await chmod(file, 0o775);
    expect(await untrustedProgramReason(file)).toBe(`${file} is writable by group or others`);
    await chmod(file, 0o757);
    expect(await untrustedProgramReason(file)).toBe(`${file} is writable by group or others`);
  });

  it('one that ignores SIGTERM and leaves a child holding its output is given up on after the timeout', async () => {
    const bin = path.join(dir, 'bin');
    const pids = path.join(dir, 'pids');
    await mkdir(bin);
    // The background sleep keeps stdout open after the program itself is killed; both outlive the test timeout.
    await writeFile(path.join(bin, 'pyrsia'), `#!/bin/sh\ntrap '' TERM\n/bin/sleep 120 &\necho $! $$ > '${pids}'\nexec /bin/sleep 120\n`, { mode: 0o755 });
    try {
      const error = await runCommand('pyrsia', ['config', '--show'], { env: { PATH: bin }, timeoutMs: 300 }).then(
        () => undefined,
        (e: unknown) => e as NodeJS.ErrnoException & { killed?: boolean },
      );
      expect(error?.killed).toBe(true);
    } finally {
      for (const pid of (await readFile(pids, 'utf8')).trim().split(' ')) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
});
