/**
 * Keeping tests off the host's own settings. Every core call in a test names its platform, environment and home
 * ({@link isolated}); and every test file runs with HOME, XDG_CONFIG_HOME and DOCKER_CONFIG pointing into a
 * fresh temp folder and no DOCKER_HOST, DOCKER_CONTEXT or DOCKMIRROR_* from the shell ({@link isolateProcess},
 * the vitest setup file), so a call path that forgets an option still cannot read the real
 * `~/.docker/config.json` or `~/.config/dockmirror/presets.json`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Shell variables that would point dockmirror or the docker CLI at the host's own daemon or settings. */
const HOST_VARIABLES = /^(DOCKMIRROR_|DOCKER_HOST$|DOCKER_CONTEXT$|DOCKER_CONFIG$|DOCKER_TLS|DOCKER_CERT_PATH$|XDG_CONFIG_HOME$)/;

/** A Docker endpoint no daemon listens on: nothing in /proc serves it, so no host dockerd is ever judged. */
export const NO_DAEMON = 'unix:///nonexistent/dockmirror-test.sock';

/**
 * The options a core call needs to find nothing of the host's: Linux, an empty environment, a home inside the
 * test's own folder that does not exist (so no docker context, presets or Pyrsia config is found there), and an
 * endpoint no daemon serves. `--apply none` still looks for the endpoint's dockerd in /proc (its flags could
 * conflict), and core has no way yet to point that look at another /proc; this endpoint makes it find nothing.
 * Spread it first: a test's own `dockerHost` then wins.
 */
export function isolated(dir: string): { platform: 'linux'; env: Record<string, string>; homedir: string; dockerHost: string } {
  return { platform: 'linux', env: {}, homedir: path.join(dir, 'no-home'), dockerHost: NO_DAEMON };
}

/**
 * Points this process's HOME, XDG_CONFIG_HOME and DOCKER_CONFIG at a fresh temp folder and drops the host
 * variables above. Returns the folder and a function that removes it.
 */
export function isolateProcess(): { home: string; restore: () => void } {
  const saved = { ...process.env };
  const home = mkdtempSync(path.join(tmpdir(), 'dm-home-'));
  for (const key of Object.keys(process.env)) if (HOST_VARIABLES.test(key)) delete process.env[key];
  process.env.HOME = home;
  process.env.XDG_CONFIG_HOME = path.join(home, '.config');
  process.env.DOCKER_CONFIG = path.join(home, '.docker');
  return {
    home,
    restore: () => {
      rmSync(home, { recursive: true, force: true });
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    },
  };
}

/** The environment for a spawned dockmirror: this process's, minus the host variables, with a temp home. */
export function childEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !HOST_VARIABLES.test(key) && key !== 'DEBUG'));
  return {
    ...env,
    NO_COLOR: '1',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    DOCKER_CONFIG: path.join(home, '.docker'),
    ...extra,
  };
}
