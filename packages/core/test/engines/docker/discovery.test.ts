// Greeting the daemon when none answers: a strict connection names the endpoint and where it came from, a
// lenient one gives nothing, and a unix endpoint with no socket behind it is known missing without a connect.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDaemon, refuseForbiddenSocket, socketMissing } from '../../../src/engines/docker/discovery.js';
import { DaemonUnreachableError } from '../../../src/errors.js';
import { isolated } from '../../support/hermetic.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-discovery-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('no daemon answering', () => {
  it('is a DaemonUnreachableError naming the endpoint and its source, with what to do', async () => {
    const endpoint = `unix://${dir}/nobody.sock`;
    const error = await connectDaemon({ ...isolated(dir), dockerHost: endpoint }, false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    expect((error as DaemonUnreachableError).message).toBe(`No Docker daemon answers at ${endpoint} (from option).`);
    expect((error as DaemonUnreachableError).hint).toBe('Start Docker, or point --docker-host / DOCKER_HOST at the running daemon, or pass --apply none.');
    expect((error as DaemonUnreachableError).details).toEqual({ endpoint });
  });

  it('is nothing at all for a lenient caller', async () => {
    expect(await connectDaemon({ ...isolated(dir), dockerHost: `unix://${dir}/nobody.sock` }, true)).toBeUndefined();
  });
});

describe('socketMissing', () => {
  it('knows a unix endpoint with nothing behind it, and judges nothing else', async () => {
    const present = path.join(dir, 'present.sock');
    await writeFile(present, '');
    expect(socketMissing(`unix://${dir}/absent.sock`)).toBe(true);
    expect(socketMissing(`unix://${present}`)).toBe(false);
    expect(socketMissing('tcp://127.0.0.1:1')).toBe(false);
    expect(socketMissing('npipe:////./pipe/docker_engine')).toBe(false);
  });
});

describe('refuseForbiddenSocket', () => {
  it('refuses nothing it cannot call forbidden: a missing socket (said elsewhere), a TCP endpoint, systemd\'s fd://', () => {
    expect(() => refuseForbiddenSocket(`unix://${dir}/absent.sock`)).not.toThrow();
    expect(() => refuseForbiddenSocket('tcp://127.0.0.1:1')).not.toThrow();
    expect(() => refuseForbiddenSocket('fd://')).not.toThrow();
  });
});
