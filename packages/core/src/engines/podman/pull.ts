/**
 * A real `podman pull` by the name a user types, for `mirror verify --engine podman --pull`: podman resolves it
 * through registries.conf (mirrors first), so success with no other way out proves the mirror works. What the
 * pull added is removed again; an image that was there before is left alone.
 */
import { runCommand as defaultRun, type RunCommand } from '../../presets/run-command.js';

/** What {@link pullWithPodman} saw. */
export interface PodmanPullResult {
  /** podman pull exited 0. */
  ok: boolean;
  /** The image was already there, so the pull proved nothing about the network and nothing was removed. */
  wasPresent: boolean;
  /** The image was removed again after the pull. */
  removed: boolean;
  /** podman's reason, when the pull (or the clean-up) failed: the first line of its stderr. */
  error?: string;
  /** The image's digest and repo digests as podman recorded them after the pull (empty when it could not say). */
  digests: string[];
}

/** Options of {@link pullWithPodman}. */
export interface PodmanPullOptions {
  /** The environment podman runs with. */
  env: NodeJS.ProcessEnv;
  /** How programs are run (default: the trusted-PATH runner). */
  run?: RunCommand;
  /** Give up on the pull after this long (default 120 s). */
  timeoutMs?: number;
}

const SHORT_TIMEOUT_MS = 15_000;

/** Pulls `image` (a full name such as `docker.io/library/alpine:3.16.2`) with podman and cleans up after it. */
export async function pullWithPodman(image: string, options: PodmanPullOptions): Promise<PodmanPullResult> {
  const run = options.run ?? defaultRun;
  const env = options.env;
  // `--` keeps a name starting with "-" from being read as a flag.
  const present = (await run('podman', ['image', 'exists', '--', image], { env, timeoutMs: SHORT_TIMEOUT_MS })).exitCode === 0;
  const pulled = await run('podman', ['pull', '--quiet', '--', image], { env, timeoutMs: options.timeoutMs ?? 120_000 });
  if (pulled.exitCode !== 0) return { ok: false, wasPresent: present, removed: false, error: firstLine(pulled.stderr), digests: [] };
  const digests = await digestsOf(run, image, env);
  if (present) return { ok: true, wasPresent: true, removed: false, digests };
  const removed = await run('podman', ['rmi', '--', image], { env, timeoutMs: SHORT_TIMEOUT_MS });
  return removed.exitCode === 0 ? { ok: true, wasPresent: false, removed: true, digests } : { ok: true, wasPresent: false, removed: false, error: `podman rmi: ${firstLine(removed.stderr)}`, digests };
}

/** `sha256:` digests podman keeps for the image: its manifest digest and those of its repo digests. */
async function digestsOf(run: RunCommand, image: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const out = await run('podman', ['image', 'inspect', '--format', '{{.Digest}} {{range .RepoDigests}}{{.}} {{end}}', '--', image], { env, timeoutMs: SHORT_TIMEOUT_MS }).catch(() => undefined);
  if (!out || out.exitCode !== 0) return [];
  return [...new Set(out.stdout.match(/sha256:[0-9a-f]{64}/g) ?? [])];
}

function firstLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => l.startsWith('Error')) ?? lines[0] ?? '').slice(0, 500);
}
