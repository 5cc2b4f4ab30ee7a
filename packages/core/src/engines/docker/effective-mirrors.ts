/**
 * The mirrors a pull really uses on Docker's containerd image store, as a type of its own: the public results
 * (`status`, `mirror list`, a change's apply report) carry it, and this module imports nothing, so the public
 * types stay free of the TOML parser's (containerd-store.ts computes it).
 */

/** One mirror a pull of the registry will try, in order. */
export interface EffectiveMirror {
  /** The mirror's URL. */
  url: string;
  /** Dialled as plain HTTP. */
  plainHttp: boolean;
  /** The file it comes from. */
  from: 'hosts.toml' | 'daemon.json';
}

/** The mirrors a pull of one registry really uses on the containerd image store, and why. */
export interface EffectiveMirrors {
  /** The registry. */
  registry: string;
  /** Mirrors tried in order before the upstream. */
  mirrors: EffectiveMirror[];
  /** The upstream tried last. */
  server: string;
  /** Which file decides: hosts.toml when it names a host, daemon.json's mirrors (docker.io only) otherwise. */
  decidedBy: 'hosts.toml' | 'daemon.json' | 'none';
  /** daemon.json mirrors that exist but do not apply to this registry, and why. */
  ignored: { url: string; reason: string }[];
  /**
   * Whether `GET /info`'s `RegistryConfig.Mirrors` (always daemon.json's view, and about docker.io) tells the
   * truth about this registry's pulls: never when a hosts.toml names hosts for it.
   */
  infoIsLive: boolean;
}
