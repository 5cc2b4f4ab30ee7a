// A Docker socket the caller may not open is a daemon that is there for others, not "no daemon": the refusal
// says so, with the docker-group fix. access(2) judges the real uid, which a process gives up only for good, so
// this file does, as its last step before the tests (vitest runs each file in a process of its own). Root first
// makes the socket (0600, root's) and gives its folder and the temp HOME to nobody, so both can still be removed.
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDaemon, refuseForbiddenSocket } from '../../../src/engines/docker/discovery.js';
import { PermissionDeniedError } from '../../../src/errors.js';
import { isolated } from '../../support/hermetic.js';

const NOBODY = 65534;
let dir: string;
let socket: string;
let server: Server;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-forbidden-'));
  socket = path.join(dir, 'docker.sock');
  server = createServer((c) => c.destroy());
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  await chmod(socket, 0o600);
  await chown(dir, NOBODY, NOBODY);
  const home = spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, process.env.HOME as string], { encoding: 'utf8' });
  expect(home.status, home.stderr).toBe(0);
  process.setgroups?.([]);
  process.setgid?.(NOBODY);
  process.setuid?.(NOBODY);
  expect([process.getuid?.(), process.geteuid?.()]).toEqual([NOBODY, NOBODY]);
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const refusal = (work: () => unknown): PermissionDeniedError => {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(PermissionDeniedError);
    return error as PermissionDeniedError;
  }
  throw new Error('not refused');
};

describe('a socket the caller may not open', () => {
  it('is refused as permission denied, naming the socket, with the docker-group fix', () => {
    const endpoint = `unix://${socket}`;
    const error = refusal(() => refuseForbiddenSocket(endpoint));
    expect(error.message).toBe(`You may not open the Docker socket ${socket}: permission denied.`);
    expect(error.location).toEqual({ file: socket });
    expect(error.hint).toBe('Add yourself to the docker group (sudo usermod -aG docker $USER, then log in again), or run dockmirror as root (sudo).');
    expect(error.details).toEqual({ endpoint, socket, errno: 'EACCES' });
  });

  it('is that refusal for a lenient caller too, not "no daemon"', async () => {
    const error = await connectDaemon({ ...isolated(dir), dockerHost: `unix://${socket}` }, true).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect((error as PermissionDeniedError).details).toMatchObject({ errno: 'EACCES', socket });
  });
});
