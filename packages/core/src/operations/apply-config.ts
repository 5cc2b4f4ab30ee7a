import { readDaemonConfig } from '../config/io.js';
import { Journal } from '../state/journal.js';
import { withLock } from '../state/lock.js';
import { locateTarget, lockTimeoutMs, type MutationOptions } from './options.js';
import { recordedInsecureStillListed } from '../mirror/ownership.js';
import { readConfigFile } from '../config/io.js';
import { bytesOf, type ChangeResult } from '../change/pipeline.js';
import { applyFileAsIs } from '../engines/docker/apply-as-is.js';
import { sameMeaningBesidesEmptyKeys } from '../engines/docker/daemon-json.js';

/** Options of {@link applyConfig}: those of a change, where `apply` picks how (`auto`, `reload`, `restart`). */
export type ApplyConfigOptions = Omit<MutationOptions, 'dryRun'>;

/**
 * `dockmirror apply`: makes the daemon that reads daemon.json load what the file says now (after a hand edit,
 * or a change made while the daemon could not be told), confirmed live by `GET /info`. A key the file does not
 * have means `[]` live (the reload briefly spells it out; the file keeps its exact bytes). The file is not
 * changed; when the daemon already uses what it says, nothing is done.
 * @throws DaemonUnreachableError (exit 5) when no daemon that reads the file can be told; ApplyError when it
 * does not take the file.
 */
export async function applyConfig(options: ApplyConfigOptions = {}): Promise<ChangeResult> {
  const target = await locateTarget(options);
  const journal = new Journal(target.stateDir);
  return withLock(
    target.stateDir,
    async () => {
      const file = target.located.path;
      await journal.recover(async (name) => bytesOf(await readConfigFile(name).catch(() => undefined)), sameMeaningBesidesEmptyKeys);
      const doc = await readDaemonConfig(file);
      const apply = await applyFileAsIs({ ...options, apply: options.apply === 'none' ? 'auto' : (options.apply ?? 'auto') }, doc, await recordedInsecureStillListed(journal, doc), journal);
      return {
        changed: false,
        dryRun: false,
        engine: 'docker',
        registry: 'docker.io',
        configFile: file,
        configSetup: target.located.setup,
        stateDir: target.stateDir,
        mirrors: doc.mirrors ?? [],
        insecureRegistries: doc.insecureRegistries ?? [],
        backup: null,
        diff: '',
        warnings: [...journal.warnings],
        apply,
        engines: [{ engine: 'docker', configFile: file, configSetup: target.located.setup, files: [], apply }],
      };
    },
    { timeoutMs: lockTimeoutMs(options), ...(options.signal ? { signal: options.signal } : {}) },
  );
}
