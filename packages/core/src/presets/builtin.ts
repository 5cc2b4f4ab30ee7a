import { PYRSIA_DEFAULT_HOST, PYRSIA_DEFAULT_PORT } from './pyrsia-address.js';

/**
 * The presets dockmirror ships, as data. A preset either names a fixed URL or a node found on this machine
 * (host and port worked out at resolve time).
 */

/** A preset whose address is worked out on this machine. */
export interface LocalNodePreset {
  /** How the address is found: a Pyrsia node's config, or a plain host and port. */
  kind: 'pyrsia' | 'host-port';
  /** Preset name. */
  name: string;
  /** One line for `dockmirror presets`. */
  description: string;
  /** Default host when no flag is given (for `pyrsia`, only the last fallback). */
  defaultHost: string;
  /** Default port when no flag is given. */
  defaultPort: number;
}

/** A preset that is just a URL. */
export interface UrlPreset {
  /** Always `url`. */
  kind: 'url';
  /** Preset name. */
  name: string;
  /** One line for `dockmirror presets`. */
  description: string;
  /** The mirror URL. */
  url: string;
}

/** Any preset definition. */
export type PresetDefinition = LocalNodePreset | UrlPreset;

/** The built-in presets. */
export const BUILTIN_PRESETS: readonly PresetDefinition[] = [
  {
    kind: 'pyrsia',
    name: 'pyrsia',
    description: 'A Pyrsia node (plain HTTP, port 7888 unless its config says otherwise)',
    defaultHost: PYRSIA_DEFAULT_HOST,
    defaultPort: PYRSIA_DEFAULT_PORT,
  },
  {
    kind: 'host-port',
    name: 'local',
    description: 'A registry:2 on port 5000 of this machine (e.g. docker run -d -p 5000:5000 registry:2)',
    defaultHost: '127.0.0.1',
    defaultPort: 5000,
  },
  {
    kind: 'url',
    name: 'gcr',
    description: "Google's public Docker Hub mirror",
    url: 'https://mirror.gcr.io',
  },
];
