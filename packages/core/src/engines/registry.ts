/**
 * The one place an engine is chosen: `--engine` (or its default) becomes the list of engine targets a call
 * works on, each located once. After this, code speaks only the {@link EngineTarget} interface.
 */
import { UsageError } from '../errors.js';
import type { CommonOptions, MutationOptions } from '../operations/options.js';
import type { EngineAdapter, EngineId, EngineTarget } from './engine.js';

/** What `--engine` accepts: one engine, or every engine found on this machine. */
export type EngineChoice = EngineId | 'all';

/** The engines in the order a change of several runs them: Docker first, since its daemon confirms live. */
export const ENGINE_ORDER: readonly EngineId[] = ['docker', 'containerd', 'podman'];

/** Each engine's adapter, loaded only when a call uses that engine. */
const ADAPTERS: Record<EngineId, (() => Promise<EngineAdapter>) | undefined> = {
  docker: async () => (await import('./docker/adapter.js')).dockerEngine,
  containerd: async () => (await import('./containerd/adapter.js')).containerdEngine,
  podman: async () => (await import('./podman/adapter.js')).podmanEngine,
};

/** Options that choose engines. */
export interface EngineOptions {
  /** Which engine (`--engine`): default `docker`; `all` is every engine found here. */
  engine?: EngineChoice;
}

/**
 * The engine targets a call works on, located once each, in {@link ENGINE_ORDER}.
 * @throws UsageError for an engine dockmirror does not know, or one this build cannot configure yet.
 */
export async function engineTargets(options: MutationOptions & EngineOptions): Promise<EngineTarget[]> {
  const choice = options.engine ?? 'docker';
  if (choice !== 'all' && !ENGINE_ORDER.includes(choice)) {
    throw new UsageError(`Unknown engine ${JSON.stringify(choice)}.`, { hint: `Use one of: ${[...ENGINE_ORDER, 'all'].join(', ')}.` });
  }
  if (choice === 'all' && options.configFile !== undefined) {
    throw new UsageError('--config-file names one engine\'s file, and --engine all changes several.', { hint: 'Name the engine the file belongs to with --engine, or drop --config-file.' });
  }
  const ids = choice === 'all' ? await presentEngines(options) : [choice];
  const targets: EngineTarget[] = [];
  for (const id of ids) targets.push(await (await adapterOf(id)).locate(options));
  return targets;
}

/** The engines installed or running here that this build can configure. */
async function presentEngines(options: CommonOptions): Promise<EngineId[]> {
  const found: EngineId[] = [];
  for (const id of ENGINE_ORDER) {
    const load = ADAPTERS[id];
    if (load && (await (await load()).present(options))) found.push(id);
  }
  return found;
}

async function adapterOf(id: EngineId): Promise<EngineAdapter> {
  const load = ADAPTERS[id];
  if (!load) throw new UsageError(`dockmirror cannot configure ${id} yet.`, { hint: 'Use --engine docker.' });
  return load();
}
