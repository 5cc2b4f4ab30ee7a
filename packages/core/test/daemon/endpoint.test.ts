import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveDockerHost } from '../../src/daemon/endpoint.js';
import { UsageError } from '../../src/errors.js';
import { writeContext } from '../support/docker-context.js';

const run = promisify(execFile);
let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'dm-endpoint-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('resolveDockerHost', () => {
  it('reads the docker CLI files bounded: a FIFO or an oversized config.json neither hangs nor counts', async () => {
    const cfg = join(home, '.docker');
    await mkdir(cfg);
    await run('mkfifo', [join(cfg, 'config.json')]);
    expect(await resolveDockerHost({ env: {}, homedir: home, platform: 'linux' })).toEqual({ endpoint: 'unix:///var/run/docker.sock', source: 'default' });
    await rm(join(cfg, 'config.json'));
    await writeFile(join(cfg, 'config.json'), `{"currentContext": "big", "pad": "${'x'.repeat(5 * 1024 * 1024)}"}`);
    expect((await resolveDockerHost({ env: {}, homedir: home, platform: 'linux' })).source).toBe('default');
    // A context whose meta.json is a FIFO is reported, not waited on.
    const metaDir = join(cfg, 'contexts', 'meta', createHash('sha256').update('c').digest('hex'));
    await mkdir(metaDir, { recursive: true });
    await run('mkfifo', [join(metaDir, 'meta.json')]);
    await expect(resolveDockerHost({ env: { DOCKER_CONTEXT: 'c' }, homedir: home })).rejects.toBeInstanceOf(UsageError);
  });

  it('prefers the explicit option over everything', async () => {
    const r = await resolveDockerHost({ dockerHost: 'tcp://127.0.0.1:2375', env: { DOCKER_HOST: 'unix:///x.sock', DOCKER_CONTEXT: 'c' }, homedir: home });
    expect(r).toEqual({ endpoint: 'tcp://127.0.0.1:2375', source: 'option' });
  });

  it('uses DOCKER_HOST over a context', async () => {
    await writeContext(join(home, '.docker'), 'c', 'unix:///ctx.sock');
    const r = await resolveDockerHost({ env: { DOCKER_HOST: 'unix:///env.sock', DOCKER_CONTEXT: 'c' }, homedir: home });
    expect(r).toEqual({ endpoint: 'unix:///env.sock', source: 'DOCKER_HOST' });
  });

  it('uses DOCKER_CONTEXT, then currentContext from config.json', async () => {
    const cfg = join(home, '.docker');
    await writeContext(cfg, 'colima', 'unix:///home/u/.colima/default/docker.sock');
    await writeContext(cfg, 'desktop-linux', 'unix:///home/u/.docker/desktop/docker.sock');
    await writeFile(join(cfg, 'config.json'), '\uFEFF{"currentContext": "desktop-linux"}');
    expect(await resolveDockerHost({ env: {}, homedir: home })).toEqual({
      endpoint: 'unix:///home/u/.docker/desktop/docker.sock',
      source: 'context',
      context: 'desktop-linux',
    });
    expect(await resolveDockerHost({ env: { DOCKER_CONTEXT: 'colima' }, homedir: home })).toMatchObject({ context: 'colima', source: 'context' });
  });

  it('honours DOCKER_CONFIG for the folder', async () => {
    const cfg = join(home, 'elsewhere');
    await writeContext(cfg, 'rootless', 'unix:///run/user/1000/docker.sock');
    await mkdir(cfg, { recursive: true });
    await writeFile(join(cfg, 'config.json'), '{"currentContext": "rootless"}');
    const r = await resolveDockerHost({ env: { DOCKER_CONFIG: cfg }, homedir: home });
    expect(r).toEqual({ endpoint: 'unix:///run/user/1000/docker.sock', source: 'context', context: 'rootless' });
  });

  it('treats the "default" context, a missing or broken config as the platform default', async () => {
    expect(await resolveDockerHost({ env: { DOCKER_CONTEXT: 'default' }, homedir: home, platform: 'linux' })).toEqual({
      endpoint: 'unix:///var/run/docker.sock',
      source: 'default',
    });
    await mkdir(join(home, '.docker'));
    await writeFile(join(home, '.docker', 'config.json'), '{ not json');
    expect((await resolveDockerHost({ env: {}, homedir: home, platform: 'win32' })).endpoint).toBe('npipe:////./pipe/docker_engine');
  });

  it('refuses a named context that does not exist, like the docker CLI', async () => {
    await expect(resolveDockerHost({ env: { DOCKER_CONTEXT: 'gone' }, homedir: home })).rejects.toBeInstanceOf(UsageError);
  });
});
