import { BoundedReadError, readBounded } from '../support/bounded-read.js';
import { pyrsiaCliConfigPath, type PlatformContext } from './paths.js';
import type { RunCommand } from './run-command.js';

/** Pyrsia's own defaults when nothing is configured. */
export const PYRSIA_DEFAULT_HOST = 'localhost';
/** The port a Pyrsia node listens on unless configured otherwise. */
export const PYRSIA_DEFAULT_PORT = 7888;

/** A Pyrsia node's configured (bind) address and how it was found. */
export interface PyrsiaAddress {
  /** The host from the node's configuration (a bind address, not yet a dial address). */
  host: string;
  /** The port. */
  port: number;
  /** One line per source consulted, in order. */
  reasons: string[];
}

/** Partial values one source can supply. */
interface Found {
  host?: string | undefined;
  port?: number | undefined;
}

/** The Pyrsia CLI's config is a few lines; the bound keeps a FIFO or /dev/zero from hanging or filling memory. */
const MAX_PYRSIA_CONFIG_BYTES = 64 * 1024;

const CLI_ERRORS = ['Error retrieving config file path', 'No Node Configured'];

/** Parses a port given as text or number; `undefined` when it is not a valid TCP port. */
export function parsePort(value: unknown): number | undefined {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * Reads `host` and `port` from `pyrsia config --show` output. Versions up to 0.2.3 print single quotes, 0.2.4
 * double quotes. The CLI exits 0 on failure, so an error is recognised by its text and returned as `error`.
 */
export function parsePyrsiaConfigShow(stdout: string): Found & { error?: string } {
  const errorLine = stdout.split(/\r?\n/).find((line) => CLI_ERRORS.some((e) => line.includes(e)));
  if (errorLine) return { error: errorLine.trim() };
  const value = (key: string): string | undefined => {
    const m = new RegExp(`^\\s*${key}\\s*=\\s*(?:(['"])(.*?)\\1|(\\d+))\\s*$`, 'm').exec(stdout);
    return m ? (m[2] ?? m[3]) : undefined;
  };
  return { host: value('host'), port: parsePort(value('port')) };
}

/** Options for {@link findPyrsiaAddress}. */
export interface FindPyrsiaOptions extends PlatformContext {
  /** `--host` flag. */
  host?: string | undefined;
  /** `--port` flag (already validated). */
  port?: number | undefined;
  /** How to run `pyrsia config --show`. */
  runCommand: RunCommand;
  /** Timeout for the CLI. */
  timeoutMs?: number;
}

/**
 * Finds the node's address: flags first, then `pyrsia config --show`, then the CLI's config file, then Pyrsia's
 * defaults. Each field comes from the first source that has it, so `--port` alone still takes the CLI's host.
 */
export async function findPyrsiaAddress(opts: FindPyrsiaOptions): Promise<PyrsiaAddress> {
  const reasons: string[] = [];
  const acc: Found = { host: opts.host, port: opts.port };
  if (acc.host !== undefined || acc.port !== undefined) reasons.push(`flags give ${describe(acc)}`);
  const done = (): boolean => acc.host !== undefined && acc.port !== undefined;
  const take = (found: Found): void => {
    acc.host ??= found.host;
    acc.port ??= found.port;
  };
  if (!done()) {
    try {
      const out = await opts.runCommand('pyrsia', ['config', '--show'], { env: opts.env, timeoutMs: opts.timeoutMs ?? 3000 });
      const parsed = parsePyrsiaConfigShow(out.stdout);
      if (parsed.error) reasons.push(`pyrsia config --show failed: ${parsed.error}`);
      else if (parsed.host === undefined && parsed.port === undefined) reasons.push(noAddress(out));
      else {
        reasons.push(`pyrsia config --show says ${describe(parsed)}`);
        take(parsed);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') reasons.push('pyrsia CLI not found on PATH');
      else if (code === 'ETIMEDOUT') reasons.push(`pyrsia config --show ${(error as Error).message.replace(/^\S+ /, '')}`);
      else reasons.push(`pyrsia config --show did not run: ${(error as Error).message}`);
    }
  }
  if (!done()) take(await readCliConfigFile(opts, reasons));
  if (acc.host === undefined || acc.port === undefined) {
    reasons.push(`Pyrsia defaults fill in ${describe({ host: acc.host === undefined ? PYRSIA_DEFAULT_HOST : undefined, port: acc.port === undefined ? PYRSIA_DEFAULT_PORT : undefined })}`);
  }
  return { host: acc.host ?? PYRSIA_DEFAULT_HOST, port: acc.port ?? PYRSIA_DEFAULT_PORT, reasons };
}

/**
 * Why `pyrsia config --show` gave no address. A failing CLI says why on stderr (or stdout) and exits non-zero:
 * that line is what the user needs, not "printed no host or port". Only its first line, and at most 200
 * characters of it, are kept.
 */
function noAddress(out: { stdout: string; stderr: string; exitCode: number | null }): string {
  const said = [out.stderr, out.stdout].map((text) => text.split(/\r?\n/).map((line) => line.trim()).find(Boolean)).find(Boolean);
  const line = said && said.length > 200 ? `${said.slice(0, 200)}…` : said;
  if (out.exitCode !== 0) return `pyrsia config --show failed (${out.exitCode === null ? 'killed by a signal' : `exit ${out.exitCode}`})${line ? `: ${line}` : ''}`;
  return line && out.stderr.trim() ? `pyrsia config --show printed no host or port, and said: ${line}` : 'pyrsia config --show printed no host or port';
}

async function readCliConfigFile(ctx: PlatformContext, reasons: string[]): Promise<Found> {
  const file = pyrsiaCliConfigPath(ctx);
  let bytes: Buffer | undefined;
  try {
    // Pyrsia's file, not dockmirror's: one that cannot be used is a source skipped with a reason, like bad TOML.
    bytes = await readBounded(file, { maxBytes: MAX_PYRSIA_CONFIG_BYTES });
  } catch (error) {
    reasons.push(
      error instanceof BoundedReadError
        ? `ignoring ${file}: ${error.reason === 'too-large' ? `larger than ${MAX_PYRSIA_CONFIG_BYTES} bytes` : 'not a regular file'}`
        : `cannot read ${file}: ${(error as Error).message}`,
    );
    return {};
  }
  if (bytes === undefined) {
    reasons.push(`no Pyrsia CLI config at ${file}`);
    return {};
  }
  const text = bytes.toString('utf8');
  // The TOML parser loads only when a Pyrsia config file is really there to read.
  const { parse: parseToml } = await import('smol-toml');
  try {
    const toml = parseToml(text);
    const found: Found = { host: typeof toml.host === 'string' ? toml.host : undefined, port: parsePort(toml.port) };
    reasons.push(`${file} says ${describe(found)}`);
    return found;
  } catch (error) {
    reasons.push(`ignoring ${file}: not valid TOML (${(error as Error).message.split('\n')[0]})`);
    return {};
  }
}

function describe(found: Found): string {
  const parts: string[] = [];
  if (found.host !== undefined) parts.push(`host ${found.host === '' ? '(empty)' : found.host}`);
  if (found.port !== undefined) parts.push(`port ${found.port}`);
  return parts.join(', ') || 'nothing usable';
}
