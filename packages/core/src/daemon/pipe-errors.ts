/**
 * What a failed connection to a Windows named pipe (`npipe:////./pipe/docker_engine`, Desktop's
 * `dockerDesktopLinuxEngine`) means. libuv reports ERROR_ACCESS_DENIED as EPERM (sometimes EACCES) and
 * ERROR_PIPE_BUSY as EBUSY: the first is a daemon that is there but not for this user, the second one that is
 * there and busy (every pipe instance taken, as while Desktop restarts), which polling must wait out instead of
 * calling the daemon broken and rolling back.
 * @module
 */
import { PermissionDeniedError } from '../errors.js';

/** How a named-pipe connection error is taken: `denied` and `busy`, or `undefined` for anything else. */
export function pipeErrorKind(endpoint: string, code: unknown): 'denied' | 'busy' | undefined {
  if (!endpoint.startsWith('npipe://')) return undefined;
  if (code === 'EPERM' || code === 'EACCES') return 'denied';
  if (code === 'EBUSY') return 'busy';
  return undefined;
}

/** The error for a pipe the caller may not open: run elevated, or join the group Docker gives pipe access. */
export function pipeDenied(endpoint: string, cause: unknown): PermissionDeniedError {
  const pipe = (endpoint.slice('npipe://'.length) || '//./pipe/docker_engine').replaceAll('/', '\\');
  return new PermissionDeniedError(`You may not open the Docker pipe ${pipe}: access is denied.`, {
    cause,
    location: { file: pipe },
    hint: 'Run the command again from an elevated prompt (Run as administrator), or join the docker-users group (net localgroup docker-users %USERNAME% /add, then sign out and in again).',
    details: { endpoint, pipe, errno: (cause as { code?: unknown }).code ?? 'EPERM' },
  });
}
