/**
 * Fake service managers for a testbed: what cannot run here (systemd, snap, OpenRC, sysvinit, Docker Desktop,
 * Windows) replaced by scripts that log their argv and drive the real test daemon through ctl.sh.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { shellQuote } from './ctl-script.js';

/** The bash body of each fake; `$CTL` is the testbed's ctl.sh, `$LOG` the call log. */
const FAKES: Record<string, string> = {
  // `systemctl [--user] <verb> docker`; `cat` prints $T/systemctl-cat.txt, else a unit running the real command line.
  systemctl: `
args=(); for a in "$@"; do case "$a" in --user|--system|--no-pager|-q|--quiet|--no-block) ;; *) args+=("$a") ;; esac; done
case "\${args[0]:-}" in
  reload|try-reload-or-restart|reload-or-restart) "$CTL" reload ;;
  restart|try-restart) "$CTL" restart ;;
  start) "$CTL" start ;;
  stop) "$CTL" stop ;;
  is-active) echo active ;;
  cat) if [ -f "$T/systemctl-cat.txt" ]; then cat "$T/systemctl-cat.txt"; else
         printf '# /lib/systemd/system/docker.service\\n[Service]\\nType=notify\\nExecStart=%s\\nExecReload=/bin/kill -s HUP $MAINPID\\n' "$(tr '\\0' ' ' <"/proc/$(cat "$T/dockerd.pid")/cmdline")"; fi ;;
  *) ;;
esac`,
  snap: `
case "$1 \${2:-}" in
  "restart docker"|"restart docker.dockerd") "$CTL" restart ;;
  "start docker") "$CTL" start ;;
  "stop docker") "$CTL" stop ;;
  "logs docker") tail -n 50 "$T/dockerd.log" ;;
esac`,
  'rc-service': `
case "$1 \${2:-}" in
  "docker reload") "$CTL" reload ;;
  "docker restart") "$CTL" restart ;;
  "docker start") "$CTL" start ;;
  "docker stop") "$CTL" stop ;;
  "docker status") echo " * status: started" ;;
esac`,
  // Debian's init script has no reload: force-reload is a restart.
  service: `
case "$1 \${2:-}" in
  "docker restart"|"docker force-reload"|"docker reload") "$CTL" restart ;;
  "docker start") "$CTL" start ;;
  "docker stop") "$CTL" stop ;;
  "docker status") echo "Docker is running." ;;
esac`,
  powershell: `
case "$*" in *Restart-Service*) "$CTL" restart ;; esac`,
};

/**
 * Create `$dir/fakebin` with fake `systemctl`, `snap`, `rc-service`, `service`, `docker` and `powershell`; put
 * it first on PATH. Each call is appended to `$dir/fake-calls.log` as `<name> <args...>` (one line per call;
 * the fake `docker` logs only `desktop ...` calls and execs the real CLI otherwise). If `$dir/fake-fail` exists
 * its content goes to stderr and the fake exits 1 without acting, to test failed applies.
 */
export async function writeFakeCommands(dir: string, realDocker: string): Promise<string> {
  const bin = join(dir, 'fakebin');
  await mkdir(bin, { recursive: true });
  const prologue = (name: string): string => `#!/bin/bash
# Fake ${name} of a dockmirror testbed: logs its argv, then drives the real test dockerd.
T=${shellQuote(dir)}
CTL="$T/ctl.sh"
LOG="$T/fake-calls.log"
echo "${name} $*" >>"$LOG"
if [ -f "$T/fake-fail" ]; then cat "$T/fake-fail" >&2; exit 1; fi
`;
  for (const [name, body] of Object.entries(FAKES)) {
    await writeFile(join(bin, name), `${prologue(name)}${body}\n`);
  }
  await writeFile(
    join(bin, 'docker'),
    `#!/bin/bash
# Fake docker of a dockmirror testbed: only \`docker desktop ...\` is faked.
T=${shellQuote(dir)}
if [ "\${1:-}" = desktop ]; then
  echo "docker $*" >>"$T/fake-calls.log"
  if [ -f "$T/fake-fail" ]; then cat "$T/fake-fail" >&2; exit 1; fi
  case "\${2:-}" in restart) "$T/ctl.sh" restart ;; start) "$T/ctl.sh" start ;; stop) "$T/ctl.sh" stop ;; esac
  exit $?
fi
exec ${shellQuote(realDocker)} "$@"
`,
  );
  await Promise.all(['docker', ...Object.keys(FAKES)].map((name) => chmod(join(bin, name), 0o755)));
  return bin;
}
