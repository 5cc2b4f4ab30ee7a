// Issue 10, the daemon half, through the built CLI on a real dockerd 20.10: exit codes and the lines a user sees
// for a daemon that reads the file but cannot be told, `dockmirror apply`, Ctrl-C during the wait, and timeouts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, assertBuilt, dockmirror, liveConfig, startTestbed, type CliRun, type Testbed } from './support/daemon-cli.js';

const ORIGINAL = '{\n  "labels": ["dm=truth-cli"]\n}\n';

let tb: Testbed;
let dockerConfig: string;

/** Live settings cleared (spelled out, as a reload keeps what an absent key had), then `bytes` on disk. */
async function reset(bytes = ORIGINAL): Promise<void> {
  await writeFile(tb.configFile, '{"labels": ["dm=truth-cli"], "registry-mirrors": [], "insecure-registries": []}\n');
  await tb.reload();
  await expect.poll(() => liveConfig(tb).then((l) => l.mirrors), { timeout: 5_000 }).toEqual([]);
  await writeFile(tb.configFile, bytes);
}

/** No DOCKER_HOST and no docker context: the user of the issue. */
const noHost = () => ({ env: { DOCKER_HOST: '', DOCKER_CONFIG: dockerConfig } });

beforeAll(async () => {
  assertBuilt();
  tb = await startTestbed({ daemonJson: ORIGINAL });
  dockerConfig = path.join(tb.dir, 'docker-config');
  await mkdir(dockerConfig);
});
afterAll(async () => {
  try {
    process.kill(tb.pid, 'SIGCONT');
  } catch {
    // Gone already.
  }
  await tb?.stop();
});

describe('a running dockerd that reads the file but is not reached', () => {
  it('SIGSTOPped: exit 5 before writing, naming the pid, the socket and the file', async () => {
    await reset();
    const pid = tb.pid;
    process.kill(pid, 'SIGSTOP');
    let run: CliRun;
    try {
      await expect.poll(async () => (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.[0], { timeout: 5_000 }).toBe('T');
      run = await dockmirror(tb, ['add', 'http://127.0.0.1:5201', '--timeout', '1.5'], { ...noHost(), stateDir: path.join(tb.dir, 's-stop') });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(`✗ dockerd (pid ${pid}) reads ${tb.configFile} and runs, but did not answer at ${tb.dockerHost} within 1.5 s. Nothing was written.`);
    expect(run.stderr).toContain(`kill -CONT ${pid}`);
    expect(`${run.stdout}${run.stderr}`).not.toContain('takes effect when Docker starts');
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });

  it('a --docker-host socket that is not there: exit 5, pointing at the socket it listens on', async () => {
    await reset();
    const missing = `unix://${tb.dir}/missing.sock`;
    const run = await dockmirror(tb, ['add', 'http://127.0.0.1:5202', '--docker-host', missing, '--timeout', '2'], { ...noHost(), stateDir: path.join(tb.dir, 's-missing') });
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(`the endpoint given, ${missing} (from option), does not answer`);
    expect(run.stderr).toContain(`→ Point --docker-host at ${tb.dockerHost}`);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });

  it('with DOCKER_HOST unset, the daemon on its own socket is the one reloaded', async () => {
    await reset();
    const run = await dockmirror(tb, ['add', 'http://127.0.0.1:5203', '--json'], { ...noHost(), stateDir: path.join(tb.dir, 's-unset') });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ changed: true, apply: { method: 'reload', endpoint: tb.dockerHost } });
    expect((await liveConfig(tb)).mirrors).toEqual(['http://127.0.0.1:5203/']);
  });

  it('a socket the user may not open is a permission error (exit 4) with the docker-group hint', async () => {
    const box = await mkdtemp('/tmp/dm-perm-');
    await chmod(box, 0o755);
    await writeFile(path.join(box, 'daemon.json'), '{}\n', { mode: 0o644 });
    await mkdir(path.join(box, 'state'), { mode: 0o700 });
    await chown(path.join(box, 'state'), 65534, 65534);
    const args = [BIN, 'apply', '--config-file', path.join(box, 'daemon.json'), '--state-dir', path.join(box, 'state'), '--docker-host', tb.dockerHost];
    const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: box, NO_COLOR: '1' },
    });
    await rm(box, { recursive: true, force: true });
    expect(run.status, run.stderr).toBe(4);
    expect(run.stderr).toContain(`✗ You may not open the Docker socket ${tb.socket}: permission denied.`);
    expect(run.stderr).toContain('docker group');
    expect(run.stderr).not.toContain('No Docker daemon');
  });
});

describe('dockmirror apply', () => {
  it('after a hand edit: loads the file, confirmed live (--json), and a second run has nothing to do', async () => {
    const edited = '{\n  "labels": ["dm=truth-cli"],\n  "registry-mirrors": ["http://127.0.0.1:5204"]\n}\n';
    await reset(edited);
    const status = await dockmirror(tb, ['status'], { stateDir: path.join(tb.dir, 's-apply') });
    expect(status.stdout).toContain('(run: dockmirror apply)');
    const run = await dockmirror(tb, ['apply', '--json'], { stateDir: path.join(tb.dir, 's-apply') });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ changed: false, apply: { method: 'reload', live: { mirrors: ['http://127.0.0.1:5204/'] } } });
    expect(await readFile(tb.configFile, 'utf8')).toBe(edited);
    const again = await dockmirror(tb, ['apply'], { stateDir: path.join(tb.dir, 's-apply') });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('✓ the daemon already uses what the file says');
  });

  it('after a hand removal of the key: live mirrors cleared, bytes kept', async () => {
    await reset('{\n  "registry-mirrors": ["http://127.0.0.1:5205"]\n}\n');
    await tb.reload();
    await expect.poll(() => liveConfig(tb).then((l) => l.mirrors), { timeout: 5_000 }).toEqual(['http://127.0.0.1:5205/']);
    await writeFile(tb.configFile, ORIGINAL);
    const run = await dockmirror(tb, ['apply'], { stateDir: path.join(tb.dir, 's-removal') });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('live mirrors: (none)');
    expect((await liveConfig(tb)).mirrors).toEqual([]);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });

  it('a file the daemon refuses: exit 5, the file untouched', async () => {
    const bad = '{"debug": "yes", "registry-mirrors": ["http://127.0.0.1:5206"]}\n';
    await reset(bad);
    const run = await dockmirror(tb, ['apply'], { stateDir: path.join(tb.dir, 's-refused') });
    expect(run.code).toBe(5);
    expect(run.stderr).toContain('It sent no reload event within 3 s: it refused the reload.');
    expect(await readFile(tb.configFile, 'utf8')).toBe(bad);
  });

  it.each([['abc'], ['0'], ['-1'], ['Infinity']])('--timeout %s is a usage error (exit 2)', async (value) => {
    const run = await dockmirror(tb, ['apply', '--timeout', value], { stateDir: path.join(tb.dir, 's-usage') });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--timeout');
  });

  it('a huge --timeout is capped with a note', async () => {
    await reset();
    const run = await dockmirror(tb, ['add', 'http://127.0.0.1:5207', '--dry-run', '--timeout', '99999999999'], { stateDir: path.join(tb.dir, 's-cap') });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('! --timeout 99999999999 is more than 3600 s; waiting at most 3600 s.');
  });
});

describe('Ctrl-C during the wait', () => {
  it.each([['SIGINT', '5208'], ['SIGTERM', '5209']] as const)('%s: one line with the file, the daemon, the backup and what to run; rollback --dry-run and rollback then work', async (signal, port) => {
    await reset();
    // A service manager whose reload hangs: the change is written, the daemon being told.
    const bin = path.join(tb.dir, 'hangbin');
    await mkdir(bin, { recursive: true });
    const marker = path.join(tb.dir, `hang-started-${signal}`);
    await writeFile(path.join(bin, 'systemctl'), `#!/bin/bash\ncase "$*" in *reload*) touch ${JSON.stringify(marker)}; exec sleep 30 ;; esac\n`, { mode: 0o755 });
    const state = path.join(tb.dir, `s-${signal}`);
    const env = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DOCKMIRROR_'))),
      NO_COLOR: '1',
      DOCKER_HOST: tb.dockerHost,
      DOCKMIRROR_SETUP: 'systemd',
      PATH: `${bin}:${process.env.PATH ?? ''}`,
    };
    const child = spawn(process.execPath, [BIN, 'add', `http://127.0.0.1:${port}`, '--config-file', tb.configFile, '--state-dir', state], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await expect.poll(() => existsSync(marker), { timeout: 20_000 }).toBe(true);
    child.kill(signal);
    expect(await closed).toBe(130);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^✗ Interrupted: ${tb.configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds the change \\(backup \\d{8}T\\d{9}Z-[0-9a-f]{6}\\) and the daemon was sent a reload but not yet seen to take it\\. Run \`dockmirror apply\` .* or \`dockmirror rollback\` to undo it\\.$`),
    );
    expect(existsSync(path.join(state, 'lock'))).toBe(false);
    const changed = await readFile(tb.configFile, 'utf8');
    expect(changed).toContain(`http://127.0.0.1:${port}`);

    const backups = await dockmirror(tb, ['backups'], { stateDir: state });
    expect(backups.stdout).toContain('(interrupted: settled by the next command)');
    const dry = await dockmirror(tb, ['rollback', '--dry-run'], { stateDir: state });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`-    "http://127.0.0.1:${port}"`);
    expect(await readFile(tb.configFile, 'utf8')).toBe(changed);
    const real = await dockmirror(tb, ['rollback'], { stateDir: state });
    expect(real.code, real.stderr).toBe(0);
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
  });
});
