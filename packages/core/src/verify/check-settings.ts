import type { Check, MirrorLists } from './types.js';
import { validateMirror } from '../mirror/url.js';
import { insecureCoverage, mirrorPosition } from './insecure.js';

type Result = Omit<Check, 'durationMs'>;

/** Check 1: daemon.json lists the mirror, and an http:// mirror's host is insecure (listed, CIDR or loopback). */
export function checkConfig(mirror: string, file: MirrorLists | Error | undefined): Result {
  if (file === undefined) return { name: 'config', ok: true, skipped: true, summary: 'daemon.json was not read' };
  if (file instanceof Error) {
    return { name: 'config', ok: false, summary: 'daemon.json could not be read', why: file.message, fix: hintOf(file) ?? 'Fix daemon.json as the error says, then verify again.' };
  }
  const position = mirrorPosition(file.mirrors, mirror);
  const url = validateMirror(mirror);
  const insecure = url.insecure ? insecureCoverage(url.host, file.insecureRegistries) : undefined;
  const data = { position: position >= 0 ? position + 1 : undefined, of: file.mirrors.length, insecure };
  if (position < 0) {
    return {
      name: 'config', ok: false, data,
      summary: 'daemon.json does not list the mirror',
      why: file.mirrors.length === 0 ? 'daemon.json has no registry-mirrors' : `registry-mirrors has ${file.mirrors.join(', ')} but not ${mirror}`,
      fix: `Add ${mirror} to registry-mirrors in daemon.json and apply the change.`,
    };
  }
  if (url.insecure && !insecure) {
    return {
      name: 'config', ok: false, data,
      summary: `daemon.json lists the mirror (position ${position + 1} of ${file.mirrors.length}) but not as insecure`,
      why: `${url.host} is plain HTTP and not in insecure-registries, so dockerd will not talk HTTP to it as a registry`,
      fix: `Add "${url.host}" to insecure-registries in daemon.json and apply the change.`,
    };
  }
  const extra = insecure ? `; ${insecure}` : '';
  return { name: 'config', ok: true, data, summary: `daemon.json lists it at position ${position + 1} of ${file.mirrors.length}${extra}` };
}

/** Check 2: the running daemon uses the mirror (read back from `GET /info`), and where it sits in the order. */
export function checkLive(mirror: string, live: MirrorLists | Error | undefined): Result {
  if (live === undefined) return { name: 'live', ok: true, skipped: true, summary: 'the daemon was not asked' };
  if (live instanceof Error) {
    return { name: 'live', ok: false, summary: 'the daemon could not be asked', why: live.message, fix: hintOf(live) ?? 'Start Docker, or point DOCKER_HOST at it, then verify again.' };
  }
  const position = mirrorPosition(live.mirrors, mirror);
  const url = validateMirror(mirror);
  const insecure = url.insecure ? insecureCoverage(url.host, live.insecureRegistries) : undefined;
  const data = { position: position >= 0 ? position + 1 : undefined, of: live.mirrors.length, mirrors: live.mirrors, insecure };
  if (position < 0) {
    return {
      name: 'live', ok: false, data,
      summary: 'the running daemon does not use the mirror',
      why: live.mirrors.length === 0 ? 'the daemon has no mirrors live: the change was not applied, or the reload failed' : `the daemon uses ${live.mirrors.join(', ')}: the change was not applied, or the reload failed`,
      fix: 'Apply the change (reload or restart the daemon) and look for "Error reconfiguring the daemon" in its log.',
    };
  }
  const order = position === 0 ? '' : ' (dockerd tries mirrors in order, so earlier ones answer first)';
  return { name: 'live', ok: true, data, summary: `the daemon uses it, position ${position + 1} of ${live.mirrors.length}${order}` };
}

function hintOf(error: Error): string | undefined {
  const hint = (error as { hint?: unknown }).hint;
  return typeof hint === 'string' ? hint : undefined;
}
