// In-process: even with --apply none (no client, no daemon told), a change that would make the running dockerd
// refuse its next start is refused. The dockerd here gets --registry-mirror as a flag and reads this daemon.json.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlagConflictError } from '../../src/errors.js';
import { addMirror } from '../../src/operations/mirrors.js';
import { Journal } from '../../src/state/journal.js';
import { isolated } from '../support/hermetic.js';
import { startTestbed, type Testbed } from '../support/testbed.js';

const ORIGINAL = '{\n  "debug": false\n}\n';
let tb: Testbed;
beforeAll(async () => {
  tb = await startTestbed({ daemonJson: ORIGINAL, extraDaemonArgs: ['--registry-mirror', 'http://127.0.0.1:7'] });
});
afterAll(async () => {
  await tb?.stop();
});

describe('--apply none and a dockerd flag for the same key', () => {
  it('refuses with FLAG_CONFLICT naming the flag and its pid, writes nothing and journals nothing', async () => {
    const stateDir = path.join(tb.dir, 'state');
    const options = { ...isolated(tb.dir), configFile: tb.configFile, stateDir, dockerHost: tb.dockerHost, apply: 'none' as const };
    const error = await addMirror({ ...options, mirror: 'http://127.0.0.1:8' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlagConflictError);
    expect((error as FlagConflictError).message).toBe(
      `dockerd already gets --registry-mirror http://127.0.0.1:7 from dockerd command line (pid ${tb.pid}); with "registry-mirrors" also in daemon.json it would refuse to start. Nothing was written.`,
    );
    expect(await readFile(tb.configFile, 'utf8')).toBe(ORIGINAL);
    expect(await new Journal(stateDir).entries()).toEqual([]);
  });

  it('a file the daemon does not read is not its business: the same change to another file is written', async () => {
    const other = path.join(tb.dir, 'elsewhere', 'daemon.json');
    const result = await addMirror({ ...isolated(tb.dir), configFile: other, dockerHost: tb.dockerHost, apply: 'none', mirror: 'http://127.0.0.1:8' });
    expect(result.changed).toBe(true);
    expect(JSON.parse(await readFile(other, 'utf8'))).toEqual({ 'registry-mirrors': ['http://127.0.0.1:8'], 'insecure-registries': ['127.0.0.1:8'] });
  });
});
