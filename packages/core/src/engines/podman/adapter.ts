/**
 * Podman, Buildah, Skopeo and CRI-O (everything built on containers/image) as an engine of the change
 * pipeline: registries.conf and its drop-ins, found and merged the way podman 4.3 does (locate.ts), edited
 * byte-exactly (registries-conf.ts). Nothing is applied: each podman, buildah or skopeo run rereads the files;
 * a running `podman system service` or CRI-O is named with what to do (services.ts).
 */
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConfigBytes } from '../../config/io.js';
import { DockmirrorError, InvalidConfigError, UsageError } from '../../errors.js';
import type { MutationOptions } from '../../operations/options.js';
import type { ApplyReport } from '../docker/rollout.js';
import type { EngineAdapter, EnginePlan, EngineTarget, ReadFile, RegistrySettings } from '../engine.js';
import { effectiveSettings, filesInOrder, locateRegistriesConf, readRegistriesFiles, whereToWrite, type RegistriesFiles, type RegistriesWriteTarget } from './locate.js';
import { listPodmanMachines, podmanMachineVerdict, podmanRegistries } from './podman-info.js';
import { checkProducedRegistries, parseRegistriesConf, planRegistriesAdd, planRegistriesRemove, registryNotes, type RegistriesConfDocument } from './registries-conf.js';
import { applyReason, findRegistriesConfReaders, reloadCrio } from './services.js';
import { pullWithPodman } from './pull.js';

/** The programs whose presence means registries.conf matters here (`--engine all`). */
const PROGRAMS = ['podman', 'buildah', 'skopeo', 'crio'];

/** The podman adapter. */
export const podmanEngine: EngineAdapter = {
  id: 'podman',
  locate: (options) => podmanTarget(options),
  async present(options) {
    const env = options.env ?? process.env;
    const onPath = (env.PATH ?? '').split(path.delimiter).filter((d) => path.isAbsolute(d));
    return PROGRAMS.some((p) => onPath.some((d) => statSync(path.join(d, p), { throwIfNoEntry: false })?.isFile())) || existsSync(path.join(options.rootDir ?? '/', 'etc', 'containers', 'registries.conf'));
  },
};

/** Options of {@link podmanTarget}: the common ones (`rootDir` and `procRoot` say where `/etc` and `/proc` are). */
export type PodmanTargetOptions = MutationOptions;

/**
 * The podman target of one call: every registries.conf file podman reads, read once (strictly, through trusted
 * folders), and for each registry the one file whose edit makes the effective config "what the user had, plus
 * the mirror". On macOS and Windows the file that counts is inside the podman machine: that is refused here
 * with what to do instead.
 */
export async function podmanTarget(options: PodmanTargetOptions): Promise<EngineTarget> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  if (platform === 'darwin' || platform === 'win32') {
    const verdict = podmanMachineVerdict(platform, await listPodmanMachines({ env }));
    throw new UsageError(verdict.message ?? 'podman runs in a podman machine here.', {
      hint: verdict.ssh ? `Run dockmirror inside the VM: ${verdict.ssh.join(' ')}` : 'Create and start a podman machine, then run dockmirror inside it.',
      details: { machine: verdict.machine ?? null, running: verdict.running ?? null },
    });
  }
  const located = await locateRegistriesConf({
    ...(options.configFile ? { configFile: options.configFile } : {}),
    env,
    homedir: options.homedir ?? env.HOME ?? os.homedir(),
    ...(options.rootDir ? { rootDir: options.rootDir } : {}),
  });
  // A file podman would refuse stops every add and remove (with its file:line:column, from the planner), but
  // not a rollback, which reads leniently and may be what puts that file right. Unsafe paths still stop here.
  let read: RegistriesFiles | InvalidConfigError;
  try {
    read = await readRegistriesFiles(located);
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    read = error;
  }
  const readFiles = (): RegistriesFiles => {
    if (read instanceof InvalidConfigError) throw read;
    return read;
  };
  const stateDir = path.resolve(options.stateDir ?? env.DOCKMIRROR_STATE_DIR ?? path.join(path.dirname(located.main), '.dockmirror'));
  const targets = new Map<string, RegistriesWriteTarget | DockmirrorError>();
  const targetFor = (registry: string): RegistriesWriteTarget | DockmirrorError => {
    let found = targets.get(registry);
    if (!found) {
      try {
        found = whereToWrite(readFiles(), registry);
      } catch (error) {
        if (!(error instanceof DockmirrorError)) throw error;
        found = error;
      }
      targets.set(registry, found);
    }
    return found;
  };
  const writable = (registry: string): RegistriesWriteTarget => {
    const found = targetFor(registry);
    if (found instanceof DockmirrorError) throw found;
    return found;
  };
  const docOf = (files: ReadonlyMap<string, ReadFile>, known: RegistriesConfDocument): RegistriesConfDocument =>
    (files.get(known.file)?.doc as RegistriesConfDocument | undefined) ?? known;
  // The change's files as they are now (or will be) in place of the ones read at locate time, in podman's order.
  const effective = (files: ReadonlyMap<string, ReadFile>) => {
    if (read instanceof InvalidConfigError) return effectiveSettings([...files.values()].flatMap((f) => (f.doc ? [f.doc as RegistriesConfDocument] : [])));
    return effectiveSettings(filesInOrder(read).map((d) => docOf(files, d)));
  };
  const dropInDirs = new Set(located.dropInDirs);
  const owns = (file: string): boolean => file === located.main || (file.endsWith('.conf') && dropInDirs.has(path.dirname(file)));
  const setup = located.source === 'flag' || located.source === 'env' ? 'custom' : `podman-${located.source}`;
  return {
    engine: 'podman',
    configFile: located.main,
    setup,
    stateDir,
    files: (registry) => {
      const found = targetFor(registry);
      // A registry dockmirror cannot write (see whereToWrite) still reads the main file, for rollback; the
      // planner refuses it with the reason.
      return [found instanceof DockmirrorError ? located.main : found.doc.file];
    },
    listedFiles: async () => filesInOrder(readFiles()).map((d) => d.file),
    endpoint: 'podman',
    async verifyPull(image, { timeoutMs }) {
      const pulled = await pullWithPodman(image, { env, timeoutMs });
      const how = `podman pull ${image} (podman resolves the plain name through registries.conf, mirrors first)`;
      const cleanup = pulled.wasPresent ? `${image} was there before the pull, so it was left alone` : pulled.removed ? `removed ${image} again (podman rmi)` : `could not remove ${image}: ${pulled.error ?? 'podman rmi failed'}`;
      if (!pulled.ok) return { ok: false, digests: [], summary: `podman could not pull ${image}`, error: pulled.error ?? 'podman pull failed', how, cleanup: 'nothing was pulled, so nothing was removed' };
      return { ok: true, digests: pulled.digests, summary: `podman pulled ${image}`, how, cleanup };
    },
    async engineView() {
      const view = await podmanRegistries({ env });
      if (view.state === 'not-installed') return undefined;
      if (view.state === 'failed') return { error: view.message };
      return { registries: view.registries.map((t) => ({ registry: t.prefix, mirrors: t.mirrors.map((m) => ({ url: m.location, plainHttp: m.insecure })) })) };
    },
    owns,
    parse: (raw: ConfigBytes, { lenient }) => {
      try {
        return parseRegistriesConf(raw.file, raw.bytes, { exists: raw.exists });
      } catch (error) {
        if (lenient) return undefined;
        throw error;
      }
    },
    settings: (files) => effective(files).map((t): RegistrySettings => ({ registry: t.prefix, mirrors: t.mirrors.map((m) => ({ url: m.location, plainHttp: m.insecure })) })),
    summary: (files, registry) => ({ mirrors: effective(files).find((t) => t.prefix === registry)?.mirrors.map((m) => m.location) ?? [], insecureRegistries: [] }),
    planAdd(files, request): EnginePlan | undefined {
      const target = writable(request.registry);
      const doc = docOf(files, target.doc);
      const plainHttp = request.mirror.insecure && request.insecure;
      const bytes = planRegistriesAdd(doc, {
        registry: request.registry,
        mirror: { url: request.mirror.url, plainHttp },
        position: request.position,
        ...(target.seed ? { seed: target.seed } : {}),
      });
      if (bytes === undefined) return undefined;
      const after = new Map(files);
      after.set(doc.file, { raw: { file: doc.file, exists: true, bytes }, doc: parseRegistriesConf(doc.file, bytes) });
      const warnings = [...readFiles().notes, ...registryNotes(effective(after), request.registry)];
      if (request.mirror.insecure && !request.insecure) warnings.push(`--no-insecure: the mirror gets no insecure = true, so podman talks TLS to ${request.mirror.host}, which serves plain HTTP.`);
      return { writes: [{ file: doc.file, bytes, mode: 0o644 }], newMirrors: [request.mirror.url], warnings };
    },
    planRemove(files, request): EnginePlan | undefined {
      const target = writable(request.registry);
      const doc = docOf(files, target.doc);
      const bytes = planRegistriesRemove(doc, request.url, { registry: request.registry });
      if (bytes === undefined) return undefined;
      return { writes: [{ file: doc.file, bytes }], newMirrors: [], warnings: [...readFiles().notes] };
    },
    checkProduced(file, before, bytes, { edit }) {
      if (edit && before.doc) return checkProducedRegistries(before.doc as RegistriesConfDocument, bytes);
      return parseRegistriesConf(file, bytes);
    },
    async prepare() {
      const readers = await findRegistriesConfReaders(options.procRoot);
      const reason = applyReason(readers);
      const signalCrio = readers.crio.length > 0 && options.apply !== 'none';
      if (!signalCrio) return { tellsEngine: false, apply: async () => ({ method: 'none', reason }) };
      const reload = async (): Promise<ApplyReport> => {
        const { signalled, skipped } = await reloadCrio(readers.crio, options.procRoot);
        const told = signalled.length > 0 ? `Sent SIGHUP to CRI-O (pid ${signalled.join(', ')}), which rereads registries.conf on it; CRI-O cannot be asked what it uses, so this is not confirmed live.` : 'No CRI-O was left to tell.';
        const gone = skipped.length > 0 ? ` CRI-O pid ${skipped.join(', ')} was gone or no longer trusted.` : '';
        return { method: signalled.length > 0 ? 'reload' : 'none', reason: `${told}${gone} ${applyReason({ ...readers, crio: [] })}` };
      };
      return { tellsEngine: true, apply: reload, reapply: reload };
    },
  };
}
