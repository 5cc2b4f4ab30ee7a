import { DockmirrorError } from '../errors.js';
import { getStatus, type DockmirrorStatus } from './status.js';
import { verifyMirror, type VerifyMirrorOptions, type VerifyReport } from './verify.js';

/** One thing `doctor` found wrong, with what to do about it. */
export interface DoctorFinding {
  /** What is wrong. */
  problem: string;
  /** What to do next. */
  fix: string;
}

/** The result of {@link runDoctor}. */
export interface DoctorReport {
  /** True when nothing needs fixing. */
  ok: boolean;
  /** What `status` shows. */
  status: DockmirrorStatus;
  /** Verification of every configured mirror; `null` when there is none to verify. */
  verify: VerifyReport | null;
  /** What to fix, most fundamental first. */
  findings: DoctorFinding[];
}

/**
 * `dockmirror doctor`: status plus verification of every configured mirror, turned into a list of problems and
 * fixes. Reads only; never changes daemon.json or the daemon.
 */
export async function runDoctor(options: Omit<VerifyMirrorOptions, 'mirror' | 'pull' | 'fresh'> = {}): Promise<DoctorReport> {
  const status = await getStatus(options);
  const findings: DoctorFinding[] = [];
  if ('error' in status.file) {
    findings.push({ problem: status.file.error.message, fix: `Fix ${status.configFile} by hand; dockerd would refuse it too.` });
  }
  const { daemon } = status;
  if (!daemon.reachable) {
    findings.push({ problem: daemon.error, fix: 'Start Docker, or point --docker-host / DOCKER_HOST at the running daemon.' });
  } else if (daemon.readsOtherFile) {
    findings.push({
      problem: `No running dockerd reads ${status.configFile} (${status.configReason}): the daemon at ${daemon.endpoint} reads ${daemon.readsOtherFile}.`,
      fix: otherFileFix(status, daemon.readsOtherFile),
    });
  } else {
    for (const c of daemon.flagConflicts) {
      findings.push({
        problem: `${c.flag} ${c.values.join(' ')} is set in ${c.source}; "${c.key}" in daemon.json too would stop dockerd from starting.`,
        fix: `Move the setting into daemon.json (dockmirror add) and remove ${c.flag} from ${c.source}.`,
      });
    }
    if (status.pending) {
      findings.push({
        problem: `The daemon does not use what daemon.json says: ${status.pending}.`,
        fix: `Run \`dockmirror apply\` to make the daemon load the file (its log: ${daemon.logHint}), or undo the edit with \`dockmirror rollback\`.`,
      });
    }
  }
  let verify: VerifyReport | null = null;
  if ('mirrors' in status.file && status.file.mirrors.length > 0) {
    verify = await verifyMirror(options).catch((error: unknown) => {
      if (error instanceof DockmirrorError) return null;
      throw error;
    });
    for (const result of verify?.results ?? []) {
      // The live check repeats what status already said about an unreachable daemon or pending change.
      for (const check of result.checks.filter((c) => !c.ok && c.name !== 'live')) {
        findings.push({ problem: `${result.mirror}: ${check.why ?? check.summary}`, fix: check.fix ?? 'See dockmirror mirror verify.' });
      }
    }
  } else if ('mirrors' in status.file) {
    findings.push({ problem: 'daemon.json has no registry mirrors.', fix: 'Add one: dockmirror add <preset|url> (see dockmirror presets).' });
  }
  return { ok: findings.length === 0, status, verify, findings };
}

/**
 * What to do about a file no running daemon reads: work on the daemon's file instead, in the way the shown file
 * was chosen (the env var is unset, not overridden), or start the daemon on this file.
 */
export function otherFileFix(status: Pick<DockmirrorStatus, 'configFile' | 'configReason'>, daemonFile: string): string {
  if (status.configReason.includes('DOCKMIRROR_CONFIG_FILE')) {
    return `Unset the environment variable DOCKMIRROR_CONFIG_FILE (it names ${status.configFile}), or set it to ${daemonFile}; or start dockerd with --config-file ${status.configFile}.`;
  }
  return `Work on the daemon's file: --config-file ${daemonFile}; or start dockerd with --config-file ${status.configFile}.`;
}
