/**
 * A real pull with containerd's own resolver, for `mirror verify`: `ctr images pull --hosts-dir` reads the
 * same hosts.toml files, with the same code, as the CRI plugin does through `config_path` (plain `ctr` ignores
 * `config_path`). The pull goes into a namespace of its own and is removed again, so the user's images are
 * never touched.
 */
import { runCommand as defaultRunCommand, type RunCommand } from '../../presets/run-command.js';
import type { EnginePull } from '../engine.js';

/** The containerd namespace verify pulls land in. */
export const VERIFY_NAMESPACE = 'dockmirror-verify';

/** Inputs of {@link pullWithCtr}. */
export interface CtrPullOptions {
  /** containerd's socket (`ctr --address`). */
  address: string;
  /** The hosts directory to resolve with: containerd's `config_path` folder. */
  hostsDir: string;
  /** A fully qualified image, e.g. `docker.io/library/alpine:3.16.2` (ctr does not add `docker.io/library`). */
  image: string;
  /** Kill each ctr call after this long. */
  timeoutMs: number;
  /** Namespace to pull into (default {@link VERIFY_NAMESPACE}). */
  namespace?: string;
  /** Environment for ctr (its PATH finds ctr; proxy variables reach the pull). */
  env?: NodeJS.ProcessEnv;
  /** Runs a program; the default refuses a ctr another user could have placed on PATH. */
  run?: RunCommand;
}

/** What the pull did. */
export interface CtrPullResult {
  /** Whether ctr pulled the image. */
  ok: boolean;
  /** The manifest (or index) digest containerd stored, when it pulled. */
  digest?: string;
  /** One line for the user. */
  summary: string;
  /** The end of ctr's output, for a failure's details. */
  output: string;
  /** Wall time of the pull. */
  durationMs: number;
}

/** ctr's output kept in a result: the end, where its error is. */
const MAX_OUTPUT = 2000;

/** Pulls `image` with `ctr --hosts-dir`, reads its digest, then removes it from the verify namespace. */
export async function pullWithCtr(options: CtrPullOptions): Promise<CtrPullResult> {
  const run = options.run ?? defaultRunCommand;
  const base = ['--address', options.address, '--namespace', options.namespace ?? VERIFY_NAMESPACE];
  const call = { timeoutMs: options.timeoutMs, ...(options.env ? { env: options.env } : {}) };
  if (!/^[a-z0-9.-]+(:[0-9]+)?\/[^\s@:]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$/.test(options.image)) {
    return { ok: false, summary: `${options.image} is not a fully qualified image (registry/repository:tag) ctr can pull`, output: '', durationMs: 0 };
  }
  const started = Date.now();
  let pulled;
  try {
    pulled = await run('ctr', [...base, 'images', 'pull', '--hosts-dir', options.hostsDir, options.image], call);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'ctr is not on PATH' : code === 'ETIMEDOUT' || (error as { killed?: boolean }).killed ? `ctr did not finish within ${options.timeoutMs} ms` : (error as Error).message;
    return { ok: false, summary: `no pull with ctr: ${why}`, output: '', durationMs: Date.now() - started };
  }
  const durationMs = Date.now() - started;
  const output = `${pulled.stdout}${pulled.stderr}`.slice(-MAX_OUTPUT);
  if (pulled.exitCode !== 0) {
    const reason = /ctr: (.*)\s*$/.exec(pulled.stderr.trim())?.[1] ?? `exit ${pulled.exitCode}`;
    return { ok: false, summary: `ctr could not pull ${options.image}: ${reason}`, output, durationMs };
  }
  const listed = await run('ctr', [...base, 'images', 'ls', `name==${options.image}`], call).catch(() => undefined);
  const digest = /\ssha256:[0-9a-f]{64}\s/.exec(listed?.stdout ?? '')?.[0].trim();
  await run('ctr', [...base, 'images', 'rm', options.image], call).catch(() => undefined);
  return { ok: true, ...(digest ? { digest } : {}), summary: `ctr pulled ${options.image} in ${durationMs} ms`, output, durationMs };
}

/** containerd's socket when config.toml names none. */
export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';

/** The socket `[grpc] address` in config.toml names (containerd's default when unset or not a string). */
export function grpcAddressOf(config: Record<string, unknown>): string {
  const grpc = config.grpc;
  const address = grpc && typeof grpc === 'object' ? (grpc as Record<string, unknown>).address : undefined;
  return typeof address === 'string' && address.length > 0 ? address : DEFAULT_CONTAINERD_ADDRESS;
}

/** {@link pullWithCtr} as the engine seam's verify pull (EngineTarget.verifyPull). */
export async function ctrVerifyPull(options: CtrPullOptions): Promise<EnginePull> {
  const pulled = await pullWithCtr(options);
  const namespace = options.namespace ?? VERIFY_NAMESPACE;
  const how = `ctr --address ${options.address} --namespace ${namespace} images pull --hosts-dir ${options.hostsDir} ${options.image} (containerd's own resolver, reading the hosts.toml files)`;
  if (!pulled.ok) return { ok: false, digests: [], summary: pulled.summary, error: pulled.summary, how, cleanup: 'nothing was pulled, so nothing was removed' };
  return { ok: true, digests: pulled.digest ? [pulled.digest] : [], summary: pulled.summary, how, cleanup: `removed ${options.image} from containerd namespace ${namespace} again` };
}
