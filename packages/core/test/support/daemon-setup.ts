/** A daemon setup as detectSetup would report it, for tests of what each kind of setup is told. */
import type { DaemonSetup, SetupKind } from '../../src/daemon/setup.js';

/** A setup of `kind` that can reload and whose restart stops containers, with `extra` on top. */
export const setup = (kind: SetupKind, extra: Partial<DaemonSetup> = {}): DaemonSetup => ({
  kind,
  logHint: '',
  restartStopsContainers: true,
  canReload: true,
  ...extra,
});
