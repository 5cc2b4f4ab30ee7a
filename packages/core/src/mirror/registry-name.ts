import { UsageError } from '../errors.js';
import { DEFAULT_REGISTRY } from '../engines/engine.js';

/** Names Docker Hub goes by; all mean docker.io, the name every engine's files use for it. */
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/**
 * The upstream registry a mirror is for (`--registry`), checked once at the edge: a host name or IP with an
 * optional port, as image references spell it, and nothing that could leave a folder when it becomes one
 * (`certs.d/<registry>/`, `<config_path>/<registry>/`). Docker Hub's other names become `docker.io`.
 * @throws UsageError for a scheme, a path, or anything that is no registry host.
 */
export function registryName(input: string | undefined): string {
  if (input === undefined) return DEFAULT_REGISTRY;
  const name = input.trim().toLowerCase();
  const fail = (why: string, hint = 'Give the registry as it appears in image names, e.g. ghcr.io, quay.io or registry.example.com:5000.') => {
    throw new UsageError(`${JSON.stringify(input.slice(0, 300))} is not a registry name: ${why}.`, { hint });
  };
  if (name.includes('://')) fail('it has a scheme', `Drop the scheme: --registry ${name.replace(/^[a-z]+:\/\//, '').split('/')[0]}.`);
  if (name.length === 0 || name.length > 253) fail('it must have 1 to 253 characters');
  if (name.includes('/')) fail('it has a path');
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)(:(\d{1,5}))?$/.exec(name);
  if (!match) fail('only letters, digits, dots, dashes and a :port are allowed');
  const port = match?.[6];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) fail('its port is out of range');
  return DOCKER_HUB_ALIASES.has(name) ? DEFAULT_REGISTRY : name;
}
