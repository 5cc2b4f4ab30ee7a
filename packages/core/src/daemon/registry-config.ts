/**
 * Reading the live registry settings out of `GET /info` and comparing them with what daemon.json asks for.
 * Pure functions, so the rules are unit-tested without a daemon.
 */
import { normalizeInsecureEntry, normalizeMirror } from '../mirror/url.js';

/** The registry settings a running daemon really uses. */
export interface LiveRegistry {
  /** `RegistryConfig.Mirrors` as the daemon reports them, each with exactly one trailing slash. */
  mirrors: string[];
  /**
   * Insecure registries the daemon added because of configuration, without the built-in default CIDRs: from
   * `GET /info`, host entries (`IndexConfigs` with `Secure: false`, not official) followed by
   * `InsecureRegistryCIDRs`; from a reload event, its `insecure-registries` as the daemon holds them.
   */
  insecureRegistries: string[];
}

/**
 * What daemon.json asks for, as written in the file. Leave a field out when the file has no such key and the
 * change was applied by reload: dockerd only applies keys present in the file, so the old live value stays and
 * cannot be predicted from the file. After a restart an absent key means empty: pass `[]`.
 */
export interface ExpectedRegistry {
  /** Mirror URLs in file order; `undefined` = not checked. */
  mirrors?: string[] | undefined;
  /** Insecure registry entries (`host[:port]` or CIDR) as written in the file; `undefined` = not checked. */
  insecureRegistries?: string[] | undefined;
}

/** CIDRs dockerd always marks insecure (`::1/128` from 28.0), so they say nothing about the file. */
export const DEFAULT_INSECURE_CIDRS: readonly string[] = ['127.0.0.0/8', '::1/128'];

/** Extract {@link LiveRegistry} from a `GET /info` body; tolerant of missing fields (old or odd daemons). */
export function liveRegistryFromInfo(info: unknown): LiveRegistry {
  const rc = field(info, 'RegistryConfig');
  const mirrors = strings(field(rc, 'Mirrors')).map(oneTrailingSlash);
  const hosts: string[] = [];
  const indexConfigs = field(rc, 'IndexConfigs');
  if (typeof indexConfigs === 'object' && indexConfigs !== null) {
    for (const [name, index] of Object.entries(indexConfigs)) {
      if (field(index, 'Secure') === false && field(index, 'Official') !== true) hosts.push(name);
    }
  }
  const cidrs = strings(field(rc, 'InsecureRegistryCIDRs')).filter((c) => !DEFAULT_INSECURE_CIDRS.includes(c));
  return { mirrors, insecureRegistries: [...hosts.sort(), ...cidrs] };
}

/**
 * The registry settings a `reload` event reports: dockerd puts the settings it has just applied in the event's
 * `Actor.Attributes`, `registry-mirrors` and `insecure-registries` each as a JSON array of strings (dockerd
 * 20.10 up; the event is sent only when the whole reload succeeded). Mirrors are given the one trailing slash
 * `GET /info` shows. `undefined` when either attribute is absent or not such an array (an older or other
 * daemon): then only `GET /info` can tell.
 */
export function liveRegistryFromReloadEvent(event: unknown): LiveRegistry | undefined {
  const attributes = field(field(event, 'Actor'), 'Attributes');
  const list = (key: string): string[] | undefined => {
    const text = field(attributes, key);
    if (typeof text !== 'string') return undefined;
    try {
      const value: unknown = JSON.parse(text);
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const mirrors = list('registry-mirrors');
  const insecure = list('insecure-registries');
  if (mirrors === undefined || insecure === undefined) return undefined;
  return {
    mirrors: mirrors.map(oneTrailingSlash),
    insecureRegistries: insecure.filter((c) => !DEFAULT_INSECURE_CIDRS.includes(c)),
  };
}

/**
 * Explain how `live` differs from `expected`, or return `undefined` when it matches: mirrors equal in order
 * (after normalising and dropping duplicates), insecure entries equal as sets; absent fields are not checked.
 */
export function registryMismatch(live: LiveRegistry, expected: ExpectedRegistry): string | undefined {
  if (expected.mirrors) {
    const want = unique(expected.mirrors.map(normalizeMirror));
    // dockerd 20.10 keeps `HTTP://A/` and `http://a/` as two entries; they are one mirror to us.
    const have = unique(live.mirrors.map(normalizeMirror));
    if (want.join('\n') !== have.join('\n')) {
      return `mirrors: daemon has [${live.mirrors.join(', ')}], file asks for [${expected.mirrors.join(', ')}]`;
    }
  }
  if (!expected.insecureRegistries) return undefined;
  const wantInsecure = new Set(expected.insecureRegistries.map(normalizeInsecureEntry));
  const haveInsecure = new Set(live.insecureRegistries.map(normalizeInsecureEntry));
  const missing = [...wantInsecure].filter((e) => !haveInsecure.has(e) && !DEFAULT_INSECURE_CIDRS.includes(e));
  const extra = [...haveInsecure].filter((e) => !wantInsecure.has(e));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      missing.length > 0 ? `missing [${missing.join(', ')}]` : '',
      extra.length > 0 ? `unexpected [${extra.join(', ')}]` : '',
    ];
    return `insecure-registries: daemon is ${parts.filter(Boolean).join(' and ')}`;
  }
  return undefined;
}

function oneTrailingSlash(mirror: string): string {
  return mirror.replace(/\/*$/, '/');
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
