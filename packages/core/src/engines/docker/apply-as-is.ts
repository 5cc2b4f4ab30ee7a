import { stat } from 'node:fs/promises';
import type { DaemonConfigDocument } from '../../config/document.js';
import { applyToDaemon, preflightDaemon, type ApplyReport } from './rollout.js';
import type { FileDaemon } from './discovery.js';
import { registryMismatch } from '../../daemon/registry-config.js';
import { DaemonUnreachableError, InterruptedError } from '../../errors.js';
import type { MutationOptions } from '../../operations/options.js';
import { hashBytes, newEntryId, type Journal } from '../../state/journal.js';

/**
 * Makes the daemon load daemon.json as it is now, unchanged, when its live registry settings differ from what
 * the file means (an absent key means `[]`). Runs under the lock. A journal entry with the same bytes before and
 * after covers the moment the reload has the absent keys spelled out as `[]`: a run killed then has its exact
 * bytes put back by the next run's recovery, and the entry never becomes a rollback target.
 * @throws DaemonUnreachableError when no daemon can be told; ApplyError when it does not take the file.
 */
export async function applyFileAsIs(
  options: MutationOptions,
  doc: DaemonConfigDocument,
  owned: string[],
  journal: Journal,
  found: { found?: FileDaemon | Promise<FileDaemon> } = {},
): Promise<ApplyReport> {
  const file = doc.file;
  const daemon = await preflightDaemon(options, { file, after: doc, newMirrors: doc.mirrors ?? [], ...found });
  if (daemon.kind === 'skip') {
    throw new DaemonUnreachableError(`No daemon was told to load ${file}: ${daemon.reason}.`, {
      hint: 'Start Docker, or point --docker-host at the daemon that reads this file, then run `dockmirror apply`.',
      details: { file, reason: daemon.reason },
    });
  }
  const { connection } = daemon;
  const liveBefore = await connection.engine.liveRegistry();
  const mismatch = registryMismatch(liveBefore, { mirrors: doc.mirrors ?? [], insecureRegistries: doc.insecureRegistries ?? [] });
  if (mismatch === undefined) {
    return { method: 'none', reason: 'the daemon already uses what the file says', endpoint: connection.endpoint, setup: connection.setup.kind, live: liveBefore, liveFrom: 'GET /info' };
  }
  const bytes = doc.exists ? doc.bytes : undefined;
  const state = { exists: doc.exists, sha256: hashBytes(bytes) };
  const mode = await stat(file).then((s) => s.mode & 0o7777, () => undefined);
  const id = newEntryId();
  await journal.saveLastWritten(bytes);
  await journal.begin({ id, op: 'apply', args: {}, time: new Date().toISOString(), files: [{ file, before: { ...state, mode }, after: state }], ownedBefore: owned, owned }, [undefined]);
  try {
    return await applyToDaemon(daemon, { file, after: doc, what: 'file' });
  } catch (error) {
    if (error instanceof InterruptedError) {
      const what = typeof error.details?.daemon === 'string' ? error.details.daemon : 'was not told';
      Object.assign(error, { message: `Interrupted: ${file} is unchanged and the daemon ${what}. Run \`dockmirror apply\` again to make it load the file.` });
    }
    throw error;
  } finally {
    // The file holds its own bytes again (applyToDaemon puts them back): nothing to keep, nothing to roll back.
    await journal.abort(id, 'apply: daemon.json unchanged').catch(() => undefined);
  }
}
