/**
 * Docker as an engine of the change pipeline: daemon.json, found the way `locateTarget` finds it (the running
 * dockerd's own `--config-file` included), applied by a reload or restart that the live daemon must confirm.
 * On the containerd image store (seen in `GET /info`, asked only when another registry or a docker.io hosts.toml
 * makes it matter) also certs.d's hosts.toml files, which dockerd reads on every pull (certs-d.ts).
 */
import { checkProducedConfig, parseDaemonConfig, type DaemonConfigDocument } from '../../config/document.js';
import { parseDaemonConfigLeniently, readConfigFile } from '../../config/io.js';
import { applyToDaemon, preflightDaemon, refuseWithoutTelling } from './rollout.js';
import { normalizeMirror } from '../../mirror/url.js';
import { samePath } from '../../support/same-path.js';
import { applyFileAsIs } from './apply-as-is.js';
import { recordedInsecureStillListed } from '../../mirror/ownership.js';
import { daemonTimeoutMs, locateTarget, type MutationOptions } from '../../operations/options.js';
import { connectForFile, type FileDaemon } from './discovery.js';
import { registryName } from '../../mirror/registry-name.js';
import { checkProducedHosts, planHostsAdd, planHostsRemoveWrite, settingsOf, type HostsDocument } from '../containerd/hosts-toml.js';
import type { EngineAdapter, EnginePlan, EngineTarget, MirrorRequest, ReadFile } from '../engine.js';
import { certsDirOf, effectiveOf, refuseOtherRegistry, seeImageStore, storeMatters } from './certs-d.js';
import type { EffectiveMirrors } from './effective-mirrors.js';
import type { ApplyReport } from './rollout.js';
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
export async function dockerTarget(options: MutationOptions): Promise<EngineTarget & { doc(files: ReadonlyMap<string, ReadFile>): DaemonConfigDocument; effective(files: ReadonlyMap<string, ReadFile>): EffectiveMirrors | undefined }> {
  const { located, stateDir } = await locateTarget(options);
  const file = located.path;
  const registry = registryName((options as { registry?: string }).registry);
  const certs = certsDirOf(options, located.setup === 'rootless');
  // Only another registry, or a docker.io hosts.toml, makes the image store matter: the common path asks nothing more.
  const store = storeMatters(certs, registry) ? await seeImageStore(options, file) : undefined;
  const onContainerdStore = store?.store === 'containerd';
  // Begun by warmUp, under the lock, so the daemon answers while the files are read and planned.
  let greeting: Promise<FileDaemon> | undefined;
  const isDaemonJson = (candidate: string): boolean => samePath(candidate, file, options.platform);
  const doc = (files: ReadonlyMap<string, ReadFile>): DaemonConfigDocument => {
    const read = files.get(file);
    if (!read?.doc) return parseDaemonConfig(file, Buffer.alloc(0), false);
    return read.doc as DaemonConfigDocument;
  };
  /** What a docker.io pull uses on the containerd image store; `undefined` on the classic store. */
  const effective = (files: ReadonlyMap<string, ReadFile>): EffectiveMirrors | undefined =>
    onContainerdStore ? effectiveOf(certs, files, DAEMON_JSON_REGISTRY, doc(files).mirrors ?? []) : undefined;
  /** The daemon this call found or is finding already, for preflightDaemon not to look again. */
  const found = (): { found?: FileDaemon | Promise<FileDaemon> } => (store ? { found: store.found } : greeting ? { found: greeting } : {});
  /** Whether docker.io's hosts.toml names hosts, so dockerd ignores daemon.json's mirrors: changes go there. */
  const hostsDecide = (files: ReadonlyMap<string, ReadFile>): boolean => effective(files)?.decidedBy === 'hosts.toml';
  const hostsMirrors = (files: ReadonlyMap<string, ReadFile>, name: string): string[] => settingsOf(certs.docOf(files, name)).mirrors.map((m) => m.url);
  // Asked before a byte is written (dry runs, prepare), so the file on disk is still the old one.
  const daemonJsonChanged = async (after: ReadonlyMap<string, ReadFile>): Promise<boolean> => {
    // A change of another registry's hosts.toml does not even read daemon.json.
    const now = after.get(file)?.raw;
    if (now === undefined) return false;
    // With no hosts.toml in the change, daemon.json is what changed: today's path, without a second read.
    if (![...after.keys()].some((name) => !isDaemonJson(name) && certs.owns(name))) return true;
    const before = await readConfigFile(file).catch(() => undefined);
    return before === undefined || now.exists !== before.exists || !now.bytes.equals(before.bytes);
  };
  const unchangedReport: ApplyReport = { method: 'none', reason: 'dockerd reads certs.d hosts.toml files on every pull: nothing to apply, no reload or restart' };
  const hostsAdd = (files: ReadonlyMap<string, ReadFile>, request: MirrorRequest, warnings: string[]): EnginePlan | undefined => {
    const hosts = certs.docOf(files, request.registry);
    const bytes = planHostsAdd(hosts, { mirror: { url: request.mirror.url, plainHttp: request.mirror.insecure }, position: request.position });
    return bytes ? { writes: [{ file: hosts.file, bytes, mode: 0o644 }], newMirrors: [request.mirror.url], warnings } : undefined;
  };
  const hostsRemove = (files: ReadonlyMap<string, ReadFile>, name: string, url: string): EnginePlan | undefined => {
    const write = planHostsRemoveWrite(certs.docOf(files, name), url);
    return write ? { writes: [write], newMirrors: [], warnings: [] } : undefined;
  };
  return {
    engine: 'docker',
    configFile: file,
    setup: located.setup,
    stateDir,
    files: (name) => {
      if (name !== DAEMON_JSON_REGISTRY) return onContainerdStore ? [certs.hostsFile(name)] : [file];
      return onContainerdStore ? [file, certs.hostsFile(name)] : [file];
    },
    listedFiles: async () => (onContainerdStore ? [file, ...(await certs.list())] : [file]),
    owns: (candidate) => isDaemonJson(candidate) || certs.owns(candidate),
    parse: (raw, { lenient }) => {
      if (!isDaemonJson(raw.file) && certs.owns(raw.file)) {
        if (!lenient) return certs.parse(raw);
        try {
          return certs.parse(raw);
        } catch {
          return undefined; // A rollback puts the old bytes back whatever the file holds now.
        }
      }
      return lenient ? parseDaemonConfigLeniently(raw) : parseDaemonConfig(raw.file, raw.bytes, raw.exists);
    },
    settings: (files) => {
      const out = daemonJsonSettings(doc(files));
      if (!onContainerdStore) return out;
      // On the containerd store, docker.io is what a pull uses (moby's merge), and every hosts.toml is a registry.
      const hub = files.has(file) ? effective(files) : undefined;
      const merged = out.filter((s) => s.registry !== DAEMON_JSON_REGISTRY);
      if (hub) merged.unshift({ registry: DAEMON_JSON_REGISTRY, mirrors: hub.mirrors.map((m) => ({ url: m.url, plainHttp: m.plainHttp })) });
      for (const [name, read] of files) {
        if (isDaemonJson(name) || !certs.owns(name) || !(read.doc as HostsDocument | undefined)?.exists) continue;
        const settings = settingsOf(read.doc as HostsDocument);
        if (settings.registry === DAEMON_JSON_REGISTRY) continue;
        merged.push({ registry: settings.registry, mirrors: settings.mirrors.map((m) => ({ url: m.url, plainHttp: m.plainHttp })) });
      }
      return merged;
    },
    summary: (files, name) => {
      if (name !== DAEMON_JSON_REGISTRY && onContainerdStore) return { mirrors: hostsMirrors(files, name), insecureRegistries: [] };
      const mirrors = hostsDecide(files) ? hostsMirrors(files, name) : (doc(files).mirrors ?? []);
      return { mirrors, insecureRegistries: doc(files).insecureRegistries ?? [] };
    },
    recordedOwned: (files, journal) => recordedInsecureStillListed(journal, doc(files)),
    planAdd(files, request, owned) {
      refuseOtherRegistry(request.registry, store, certs);
      if (request.registry !== DAEMON_JSON_REGISTRY) return hostsAdd(files, request, []);
      if (hostsDecide(files)) {
        const why = `${certs.hostsFile(DAEMON_JSON_REGISTRY)} names hosts for docker.io, so dockerd on the containerd image store ignores daemon.json's registry-mirrors: the mirror goes in that hosts.toml, where pulls use it.`;
        return hostsAdd(files, request, [why]);
      }
      return planDaemonJsonAdd(doc(files), request, owned);
    },
    planRemove(files, request, owned) {
      refuseOtherRegistry(request.registry, store, certs);
      if (request.registry !== DAEMON_JSON_REGISTRY) return hostsRemove(files, request.registry, request.url);
      if (onContainerdStore && certs.existing(files, DAEMON_JSON_REGISTRY)) {
        const fromHosts = hostsRemove(files, DAEMON_JSON_REGISTRY, request.url);
        if (fromHosts) return fromHosts;
      }
      return planDaemonJsonRemove(doc(files), request.url, owned);
    },
    checkProduced(name, before, bytes, { edit }) {
      if (!isDaemonJson(name) && certs.owns(name)) {
        if (edit && before.doc) return checkProducedHosts(before.doc as HostsDocument, bytes);
        return certs.parse({ file: name, exists: true, bytes });
      }
      const after = checkProducedConfig(name, bytes);
      if (edit && before.doc) assertOnlyMirrorKeysChanged(before.doc as DaemonConfigDocument, after.value);
      return after;
    },
    async checkQuietly(after, newMirrors) {
      if (!(await daemonJsonChanged(after))) return;
      await refuseWithoutTelling(options, { file, after: doc(after), newMirrors: listedIn(doc(after), newMirrors) });
    },
    warmUp(abandon) {
      // The image store's call greeted the daemon already; --apply none never greets it.
      if (store || options.apply === 'none') return;
      greeting = connectForFile({ ...options, abandon }, file, daemonTimeoutMs(options));
      // Awaited by prepare (which reports its failure), or abandoned: never an unhandled rejection.
      greeting.catch(() => undefined);
    },
    async prepare(after, newMirrors) {
      // Only certs.d changed: dockerd's containerd resolver reads it on every pull, so it is never reloaded for it.
      if (!(await daemonJsonChanged(after))) return { tellsEngine: false, apply: async () => unchangedReport };
      const handle = await preflightDaemon(options, { file, after: doc(after), newMirrors: listedIn(doc(after), newMirrors), ...found() });
      // The live check compares GET /info with daemon.json (what it reflects); what pulls use is the merge.
      const withEffective = (report: ApplyReport, now: ReadonlyMap<string, ReadFile>): ApplyReport => {
        const merged = effective(now);
        if (!merged) return report;
        const { live, ...rest } = report;
        return { ...rest, ...(live && merged.infoIsLive ? { live } : {}), effective: merged };
      };
      return {
        tellsEngine: handle.kind === 'apply',
        apply: async (now) => withEffective(await applyToDaemon(handle, { file, after: doc(now) }), now),
        reapply: async (restored) => withEffective(await applyToDaemon(handle, { file, after: doc(restored), recovering: true }), restored),
      };
    },
    // An explicit --apply reload|restart means "and make the daemon use it": the file may already say so while
    // the live config does not (a hand edit, a run that could not reach the daemon).
    // A change of another registry's hosts.toml never read daemon.json: there is nothing of it to apply as is.
    applyAsIs: async (files, owned, journal) => (files.has(file) ? applyFileAsIs(options, doc(files), owned, journal, found()) : unchangedReport),
    respelled: sameMeaningBesidesEmptyKeys,
    doc,
    effective,
  };
}

/** The new mirrors this daemon.json lists: a change of several engines passes every engine's, and dockerd checks only its own. */
function listedIn(doc: DaemonConfigDocument, newMirrors: string[]): string[] {
  const listed = new Set((doc.mirrors ?? []).map(normalizeMirror));
  return newMirrors.filter((m) => listed.has(normalizeMirror(m)));
}
