/**
 * Docker as an engine of the change pipeline: daemon.json, found the way `locateTarget` finds it (the running
 * dockerd's own `--config-file` included), applied by a reload or restart that the live daemon must confirm.
 */
import { checkProducedConfig, parseDaemonConfig, type DaemonConfigDocument } from '../../config/document.js';
import { parseDaemonConfigLeniently } from '../../config/io.js';
import { applyToDaemon, preflightDaemon, refuseWithoutTelling } from './rollout.js';
import { UsageError } from '../../errors.js';
import { normalizeMirror } from '../../mirror/url.js';
import { samePath } from '../../support/same-path.js';
import { applyFileAsIs } from './apply-as-is.js';
import { recordedInsecureStillListed } from '../../mirror/ownership.js';
import { locateTarget, type MutationOptions } from '../../operations/options.js';
import type { EngineAdapter, EngineTarget, ReadFile } from '../engine.js';
import { DAEMON_JSON_REGISTRY, assertOnlyMirrorKeysChanged, daemonJsonSettings, planDaemonJsonAdd, planDaemonJsonRemove, sameMeaningBesidesEmptyKeys } from './daemon-json.js';

/** The Docker adapter. */
export const dockerEngine: EngineAdapter = {
  id: 'docker',
  async locate(options) {
    return dockerTarget(options);
  },
  async present() {
    // Docker is the default engine: its file is always a target (a missing daemon.json means `{}`).
    return true;
  },
};

/** The Docker target of one call, bound to the call's options (the daemon is asked with them). */
export async function dockerTarget(options: MutationOptions): Promise<EngineTarget & { doc(files: ReadonlyMap<string, ReadFile>): DaemonConfigDocument }> {
  const { located, stateDir } = await locateTarget(options);
  const file = located.path;
  const doc = (files: ReadonlyMap<string, ReadFile>): DaemonConfigDocument => {
    const read = files.get(file);
    if (!read?.doc) return parseDaemonConfig(file, Buffer.alloc(0), false);
    return read.doc as DaemonConfigDocument;
  };
  const refuseOtherRegistry = (registry: string) => {
    if (registry !== DAEMON_JSON_REGISTRY) {
      throw new UsageError(`daemon.json's registry-mirrors only mirror docker.io, so Docker cannot mirror ${registry} that way.`, {
        hint: `Mirrors for ${registry} need Docker's containerd image store (then dockmirror writes /etc/docker/certs.d/${registry}/hosts.toml), or use --engine containerd for containerd's own pulls.`,
      });
    }
  };
  return {
    engine: 'docker',
    configFile: file,
    setup: located.setup,
    stateDir,
    files: () => [file],
    listedFiles: async () => [file],
    owns: (candidate) => samePath(candidate, file, options.platform),
    parse: (raw, { lenient }) => (lenient ? parseDaemonConfigLeniently(raw) : parseDaemonConfig(raw.file, raw.bytes, raw.exists)),
    settings: (files) => daemonJsonSettings(doc(files)),
    summary: (files) => ({ mirrors: doc(files).mirrors ?? [], insecureRegistries: doc(files).insecureRegistries ?? [] }),
    recordedOwned: (files, journal) => recordedInsecureStillListed(journal, doc(files)),
    planAdd(files, request, owned) {
      refuseOtherRegistry(request.registry);
      return planDaemonJsonAdd(doc(files), request, owned);
    },
    planRemove(files, request, owned) {
      refuseOtherRegistry(request.registry);
      return planDaemonJsonRemove(doc(files), request.url, owned);
    },
    checkProduced(name, before, bytes, { edit }) {
      const after = checkProducedConfig(name, bytes);
      if (edit && before.doc) assertOnlyMirrorKeysChanged(before.doc as DaemonConfigDocument, after.value);
      return after;
    },
    async checkQuietly(after, newMirrors) {
      await refuseWithoutTelling(options, { file, after: doc(after), newMirrors: listedIn(doc(after), newMirrors) });
    },
    async prepare(after, newMirrors) {
      const handle = await preflightDaemon(options, { file, after: doc(after), newMirrors: listedIn(doc(after), newMirrors) });
      return {
        tellsEngine: handle.kind === 'apply',
        apply: (now) => applyToDaemon(handle, { file, after: doc(now) }),
        reapply: (restored) => applyToDaemon(handle, { file, after: doc(restored), recovering: true }),
      };
    },
    // An explicit --apply reload|restart means "and make the daemon use it": the file may already say so while
    // the live config does not (a hand edit, a run that could not reach the daemon).
    applyAsIs: (files, owned, journal) => applyFileAsIs(options, doc(files), owned, journal),
    respelled: sameMeaningBesidesEmptyKeys,
    doc,
  };
}

/** The new mirrors this daemon.json lists: a change of several engines passes every engine's, and dockerd checks only its own. */
function listedIn(doc: DaemonConfigDocument, newMirrors: string[]): string[] {
  const listed = new Set((doc.mirrors ?? []).map(normalizeMirror));
  return newMirrors.filter((m) => listed.has(normalizeMirror(m)));
}
