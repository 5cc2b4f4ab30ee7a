/**
 * containerd as an engine of the change pipeline. Its files are config.toml (only to find, or once set,
 * `config_path`) and one `<config_path>/<registry>/hosts.toml` per upstream registry. containerd reads hosts.toml
 * on every pull, so a change with `config_path` already set needs nothing applied; setting `config_path` needs a
 * containerd restart, which dockmirror says and leaves to the user.
 */
import path from 'node:path';
import { readConfigFile, type ConfigBytes } from '../../config/io.js';
import { UnsafePathError } from '../../errors.js';
import { isTrustedUid, trustedPath } from '../../support/trusted-path.js';
import { findTrustedProgram } from '../../presets/run-command.js';
import type { EngineAdapter, EnginePlan, EngineTarget, ReadFile, RegistrySettings } from '../engine.js';
import type { MutationOptions } from '../../operations/options.js';
import { locateContainerdConfig, parseContainerdConfig, planSetConfigPath, refuseInlineMirrors, registryConfigOf } from './config-toml.js';
import { hostsDirFor, isRegistryName, listHostsFiles, unspell } from './hosts-dir.js';
import { checkProducedHosts, parseHostsToml, planHostsAdd, planHostsRemoveWrite, settingsOf, type HostsDocument } from './hosts-toml.js';
import { tomlString } from './toml-nodes.js';
import { ctrVerifyPull, grpcAddressOf } from './pull.js';

/** The containerd adapter. */
export const containerdEngine: EngineAdapter = {
  id: 'containerd',
  async locate(options) {
    return containerdTarget(options);
  },
  async present(options) {
    const located = locateContainerdConfig(ownConfigFile(options));
    if (located.source !== 'default' || (await readConfigFile(located.path)).exists) return true;
    return findTrustedProgram('containerd', options.env ?? process.env).then(() => true, () => false);
  },
};

/**
 * `--config-file` names config.toml only when containerd is the one engine of the call: with `--engine all` it
 * is Docker's daemon.json, and containerd is located on its own.
 */
function ownConfigFile(options: MutationOptions & { engine?: string }): { configFile?: string; rootDir?: string; procRoot?: string } {
  return {
    ...(options.configFile && options.engine !== 'all' ? { configFile: options.configFile } : {}),
    ...(options.rootDir ? { rootDir: options.rootDir } : {}),
    ...(options.procRoot ? { procRoot: options.procRoot } : {}),
  };
}

/** The containerd target of one call: config.toml read once, and the hosts directory it names (or will name). */
export async function containerdTarget(options: MutationOptions): Promise<EngineTarget> {
  const located = locateContainerdConfig(ownConfigFile(options));
  const configFile = located.path;
  const raw = await readConfigFile(configFile);
  if (raw.exists) await refuseUntrustedConfig(configFile);
  const configDoc = parseContainerdConfig(configFile, raw.bytes, { exists: raw.exists });
  const config = registryConfigOf(configDoc, options.platform ? { platform: options.platform } : {});
  // Without config_path, the folder containerd's docs and 2.x's default use, beside config.toml.
  const hostsDir = config.hostsDir ?? path.join(path.dirname(configFile), 'certs.d');
  const env = options.env ?? process.env;
  const stateDir = path.resolve(options.stateDir ?? env.DOCKMIRROR_STATE_DIR ?? path.join(path.dirname(configFile), '.dockmirror'));
  const hostsFile = (registry: string): string => path.join(hostsDirFor(hostsDir, registry, options.platform ? { platform: options.platform } : {}), 'hosts.toml');
  const registryOf = (file: string): string => unspell(path.basename(path.dirname(file)));
  const isHostsFile = (file: string): boolean => path.basename(file) === 'hosts.toml' && path.dirname(path.dirname(file)) === hostsDir && isRegistryName(registryOf(file));
  const hostsDoc = (files: ReadonlyMap<string, ReadFile>, registry: string): HostsDocument => {
    const file = hostsFile(registry);
    return (files.get(file)?.doc as HostsDocument | undefined) ?? parseHostsToml(file, Buffer.alloc(0), { registry, exists: false });
  };
  const configNow = (files: ReadonlyMap<string, ReadFile>) => (files.get(configFile)?.doc as ReturnType<typeof parseContainerdConfig> | undefined) ?? configDoc;
  const warnings = config.imports.length > 0 ? [`${configFile} imports ${config.imports.join(', ')}; dockmirror did not read those, and a config_path set there wins.`] : [];
  // A containerd another user started is worth a line; dockerd's own managed one is on every Docker host.
  for (const passed of located.ignored.filter((p) => !p.reason.includes('dockerd'))) warnings.push(`Passed over containerd pid ${passed.pid}: ${passed.reason}.`);

  return {
    engine: 'containerd',
    configFile,
    setup: located.source === 'process' ? `running containerd (pid ${located.pid})` : 'containerd',
    stateDir,
    endpoint: grpcAddressOf(configDoc.value),
    files: (registry) => [configFile, hostsFile(registry)],
    verifyPull: (image, { timeoutMs }) => ctrVerifyPull({ address: grpcAddressOf(configDoc.value), hostsDir, image, timeoutMs, env }),
    listedFiles: () => listHostsFiles(hostsDir),
    owns: (file) => file === configFile || isHostsFile(file),
    parse(bytes: ConfigBytes, { lenient }) {
      const read = () => (bytes.file === configFile ? parseContainerdConfig(bytes.file, bytes.bytes, { exists: bytes.exists }) : parseHostsToml(bytes.file, bytes.bytes, { registry: registryOf(bytes.file), exists: bytes.exists }));
      if (!lenient) return read();
      try {
        return read();
      } catch {
        return undefined; // A rollback puts the old bytes back whatever the file holds now.
      }
    },
    settings(files) {
      const out: RegistrySettings[] = [];
      for (const [file, read] of files) {
        if (!isHostsFile(file) || !read.doc) continue;
        const settings = settingsOf(read.doc as HostsDocument);
        out.push({ registry: settings.registry, mirrors: settings.mirrors.map((m) => ({ url: m.url, plainHttp: m.plainHttp })) });
      }
      return out;
    },
    summary: (files, registry) => ({ mirrors: settingsOf(hostsDoc(files, registry)).mirrors.map((m) => m.url), insecureRegistries: [] }),
    planAdd(files, request) {
      const doc = hostsDoc(files, request.registry);
      const bytes = planHostsAdd(doc, { mirror: { url: request.mirror.url, plainHttp: request.mirror.insecure }, position: request.position });
      const current = configNow(files);
      const setPath = registryConfigOf(current).hostsDir === undefined ? planSetConfigPath(current, hostsDir, options.platform ? { platform: options.platform } : {}) : undefined;
      if (!setPath) refuseInlineMirrors(current);
      if (!bytes && !setPath) return undefined;
      // hosts.toml first: a containerd restarted between the two writes then finds it.
      const plan: EnginePlan = { writes: bytes ? [{ file: doc.file, bytes, mode: 0o644 }] : [], newMirrors: [request.mirror.url], warnings: [...warnings] };
      if (setPath) {
        plan.writes.push({ file: configFile, bytes: setPath.bytes });
        plan.warnings.push(`${configFile} now sets config_path = ${tomlString(hostsDir)}: restart containerd (e.g. systemctl restart containerd) for it to read hosts.toml files at all.`);
      }
      return plan;
    },
    planRemove(files, request) {
      const write = planHostsRemoveWrite(hostsDoc(files, request.registry), request.url);
      if (!write) return undefined;
      return { writes: [write], newMirrors: [], warnings: [...warnings] };
    },
    checkProduced(file, before, bytes, { edit }) {
      if (file === configFile) return parseContainerdConfig(file, bytes);
      if (edit && before.doc) return checkProducedHosts(before.doc as HostsDocument, bytes);
      return parseHostsToml(file, bytes, { registry: registryOf(file) });
    },
    async prepare(after) {
      const restart = !(after.get(configFile)?.raw.bytes ?? Buffer.alloc(0)).equals(raw.bytes);
      const reason = restart
        ? `config_path changed in ${configFile}: containerd reads it only when it starts, so restart containerd`
        : 'containerd reads hosts.toml on every pull: nothing to apply, no restart';
      return { tellsEngine: false, apply: async () => ({ method: 'none', reason }) };
    },
  };
}

/**
 * config.toml decides where root writes (its `config_path`), so it must be a file nobody else could have written:
 * reached through folders and symlinks of root or the caller only, owned by one of them, writable by no one else.
 */
async function refuseUntrustedConfig(file: string): Promise<void> {
  const what = "folder of containerd's config.toml";
  const { info } = await trustedPath(file, { what });
  if (!info || process.getuid === undefined) return;
  const why = !isTrustedUid(info.uid) ? `is owned by uid ${info.uid}` : (info.mode & 0o022) !== 0 ? 'is writable by other users' : undefined;
  if (why === undefined) return;
  throw new UnsafePathError(`${file} ${why}, so its config_path cannot be trusted to say where root writes; nothing was written.`, {
    location: { file },
    hint: `Make it root's and not writable by others (chown root ${file} && chmod go-w ${file}), or name another with --config-file.`,
  });
}
