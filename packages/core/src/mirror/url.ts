import { InvalidMirrorError } from '../errors.js';

/** The result of checking a mirror URL the way dockerd's ValidateMirror does. */
export interface ValidatedMirror {
  /** The URL as dockmirror writes it: lowercase scheme and host, no trailing slash. */
  url: string;
  /** `host[:port]` of the mirror, the form `insecure-registries` entries take. */
  host: string;
  /** Whether the mirror speaks plain HTTP (and so needs an insecure-registries entry). */
  insecure: boolean;
  /** The path prefix after the host, if any (only dockerd 25.0+ accepts one). */
  path: string | undefined;
  /** Things the user should know that do not stop the change. */
  warnings: string[];
}

/** Options for {@link validateMirror}. */
export interface ValidateMirrorOptions {
  /**
   * Whether the target daemon accepts a path after the host (dockerd 25.0+). `undefined` means the daemon is
   * not known: a path is allowed with a warning.
   */
  allowPath?: boolean;
}

/**
 * Checks a mirror URL as dockerd's ValidateMirror does and returns its normalised form. Throws
 * {@link InvalidMirrorError} for anything dockerd would refuse at start, so a bad mirror never reaches the file.
 */
export function validateMirror(input: string, options: ValidateMirrorOptions = {}): ValidatedMirror {
  const raw = input.trim();
  const fail = (why: string, hint: string): never => {
    throw new InvalidMirrorError(`Invalid mirror ${JSON.stringify(input)}: ${why}.`, {
      hint,
      details: { mirror: input },
    });
  };
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    fail('no scheme', `Write it with a scheme, e.g. https://${raw || 'mirror.example.com'} or http://${raw || '127.0.0.1:5000'}.`);
  }
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch (cause) {
    throw new InvalidMirrorError(`Invalid mirror ${JSON.stringify(input)}: not a URL.`, {
      cause,
      hint: 'Give a URL such as https://mirror.example.com or http://127.0.0.1:5000.',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    fail(`unsupported scheme ${parsed.protocol.slice(0, -1)}`, 'dockerd accepts only http:// and https:// mirrors.');
  }
  if (!parsed.hostname) fail('no host', 'Give the host name or IP address of the mirror.');
  if (parsed.username || parsed.password) {
    fail('credentials in the URL', 'Remove user:password@; log in with `docker login <mirror-host>` instead.');
  }
  // URL drops an empty "?" or "#", which dockerd would still refuse, so look at the raw text too.
  if (parsed.search || parsed.hash || /[?#]/.test(raw)) {
    fail('a query or fragment', 'Remove everything from "?" or "#" on.');
  }
  const path = parsed.pathname.replace(/\/+$/, '');
  const warnings: string[] = [];
  if (path) {
    if (options.allowPath === false) {
      fail(`a path (${path})`, 'This Docker daemon is older than 25.0 and refuses mirror paths; use the mirror\'s root URL.');
    }
    if (options.allowPath === undefined) {
      warnings.push(`The mirror has a path (${path}); dockerd before 25.0 refuses such mirrors.`);
    }
  }
  const url = `${parsed.protocol}//${parsed.host}${path}`;
  return { url, host: parsed.host, insecure: parsed.protocol === 'http:', path: path || undefined, warnings };
}

/**
 * The form mirrors are compared in: lowercase scheme and host, no trailing slash. Entries that are not URLs
 * are compared as trimmed text, so a broken entry in the file never matches a valid one by accident.
 */
export function normalizeMirror(value: string): string {
  const trimmed = value.trim();
  try {
    const parsed = new URL(trimmed);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}${parsed.search}${parsed.hash}`;
  } catch {
    return trimmed.replace(/\/+$/, '');
  }
}

/** Normalises an insecure-registries entry for comparison (dockerd strips http:// and https://). */
export function normalizeInsecureEntry(value: string): string {
  return value.trim().replace(/^https?:\/\//i, '').toLowerCase();
}
