/** The engine-neutral meaning of registries.conf tables, shared by the file reader and podman's own view. */

/** One mirror of a registry, as containers/image uses it. */
export interface RegistryMirrorSettings {
  /** `host[:port][/path]`, no scheme; as written (podman 4.3 keeps a mirror's trailing slash, unlike the registry's). */
  location: string;
  /** Plain HTTP or an unverified certificate is allowed for this mirror only. */
  insecure: boolean;
  /** `pull-from-mirror` (`all`, `digest-only`, `tag-only`), when set. */
  pullFromMirror?: string;
}

/** The meaning of one `[[registry]]` table (or one entry of podman info's `registries`). */
export interface RegistryTableSettings {
  /** What image names the table matches: `prefix`, else `location` (trailing slashes trimmed). */
  prefix: string;
  /** The upstream the names are rewritten to; empty only for a `*.example.com` prefix. */
  location: string;
  /** Plain HTTP or an unverified certificate is allowed for the upstream itself. */
  insecure: boolean;
  /** Pulls of matching images are refused. */
  blocked: boolean;
  /** Mirrors are used for pulls by digest only. */
  mirrorByDigestOnly: boolean;
  /** The mirrors, in the order they are tried (the upstream comes after them). */
  mirrors: RegistryMirrorSettings[];
}
