import os from 'node:os';
import path from 'node:path';
import { Command, Errors, ux } from '@oclif/core';
import { DockmirrorError } from '@dockmirror/core';
import { EXIT_CODES } from './exit-codes.js';
import { diffLines, paint, toScreen } from './output.js';

/**
 * Every dockmirror command: `--json` on, and one error path. A {@link DockmirrorError} prints what happened,
 * the file and line, and what to do next, then exits with its documented code. Anything else is a bug: one
 * line and exit 1, with the stack only when `DEBUG` is set.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  /** Writes a line to stdout unless `--json` is on, with every control character not dockmirror's own escaped. */
  protected say(line = ''): void {
    if (!this.jsonEnabled()) this.log(toScreen(line));
  }

  /** Writes a line to stderr the same way as {@link say}. */
  protected tell(line = ''): void {
    this.logToStderr(toScreen(line));
  }

  /**
   * `--json` output. JSON.stringify escapes C0 controls but leaves DEL and the C1 controls raw (0x9b is a CSI to
   * many terminals); `\u00XX` escapes decode to the same strings, so machines read exactly the same object.
   */
  override logJson(json: unknown): void {
    const text = ux.colorizeJson(json, { pretty: true, theme: this.config.theme?.json });
    ux.stdout(text.replace(/[\u007f-\u009f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`));
  }

  /**
   * How core may talk to the user while it works: a spinner on stderr while waiting on the daemon, and a yes/no
   * question before a restart that stops containers. Neither exists without a terminal or with `--json`, so
   * core then refuses such a restart unless `--yes` was given.
   */
  protected interaction(): { onProgress?: (message: string) => void; confirm?: (question: string) => Promise<boolean>; signal: AbortSignal } {
    const signal = this.interruptible();
    if (this.jsonEnabled()) return { signal };
    const spinner = process.stderr.isTTY
      ? { onProgress: (message: string) => (ux.action.running ? (ux.action.status = toScreen(message)) : ux.action.start(toScreen(message))) }
      : {};
    const prompt = process.stdin.isTTY && process.stdout.isTTY
      ? {
          confirm: async (question: string) => {
            if (ux.action.running) ux.action.stop('waiting for you');
            const { default: confirm } = await import('@inquirer/confirm');
            return confirm({ message: toScreen(question), default: false });
          },
        }
      : {};
    return { ...spinner, ...prompt, signal };
  }

  #interrupt: { controller: AbortController; stop: () => void } | undefined;

  /**
   * Ctrl-C (SIGINT) and SIGTERM during a change abort core's waits instead of killing the process: core then
   * says in one line what daemon.json and the daemon hold and what to run, and the lock is released on the way
   * out. A second signal exits at once (130), as a user pressing Ctrl-C twice expects.
   */
  private interruptible(): AbortSignal {
    if (this.#interrupt) return this.#interrupt.controller.signal;
    const controller = new AbortController();
    const onSignal = (): void => {
      if (controller.signal.aborted) process.exit(130);
      if (ux.action.running) ux.action.stop('interrupted');
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    this.#interrupt = {
      controller,
      stop: () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      },
    };
    return controller.signal;
  }

  override async finally(error: Error | undefined): Promise<void> {
    this.#interrupt?.stop();
    if (ux.action.running) ux.action.stop(error ? 'failed' : 'done');
    return super.finally(error);
  }

  override async catch(error: Error & { oclif?: { exit?: number } }): Promise<void> {
    // oclif's own parse errors (unknown flag, missing argument) already say what to do, and exit 2.
    if (error instanceof Errors.CLIError || error.oclif?.exit !== undefined) {
      if (this.jsonEnabled()) {
        this.logJson({ error: { code: 'USAGE', message: error.message } });
        this.exit(error.oclif?.exit ?? 2);
      }
      throw error;
    }
    const known =
      error instanceof DockmirrorError
        ? error
        : new DockmirrorError('UNEXPECTED', `Unexpected error: ${error.message}`, {
            cause: error,
            hint: 'This is a bug in dockmirror. Run again with DEBUG=1 for details and report it.',
          });
    if (this.jsonEnabled()) {
      this.logJson({ error: known.toJSON() });
    } else {
      this.tell(`${paint('red', '✗', process.stderr)} ${known.message}`);
      const diff = known.details?.diff;
      if (typeof diff === 'string' && diff) for (const line of diffLines(diff)) this.tell(line);
      // Root fixes a permission error on a system file; a file in the home folder (rootless, Desktop, presets)
      // belongs to the user, and sudo would only make it root's.
      const ownFile = known.location?.file.startsWith(os.homedir() + path.sep) ?? false;
      // A Docker socket is another matter: its hint (the docker group) is the fix, sudo only one way round it.
      const socket = typeof known.details?.socket === 'string';
      // Windows has no sudo (core's hint says to use an elevated prompt), and a busy file needs no root at all.
      const rootFixes = process.platform !== 'win32' && !['EROFS', 'EBUSY'].includes(String(known.details?.errno));
      const hint = known.code === 'PERMISSION' && rootFixes && !ownFile && !socket ? sudoHint() : known.hint;
      if (hint) this.tell(`  ${paint('dim', '→', process.stderr)} ${hint}`);
      if (process.env.DEBUG && error.stack) for (const line of error.stack.split('\n')) this.tell(line);
    }
    this.exit(EXIT_CODES[known.code]);
  }
}

/** The exact command line to run again as root, quoted for a POSIX shell. */
function sudoHint(): string {
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);
  return `Run it again as root: sudo dockmirror ${process.argv.slice(2).map(quote).join(' ')}`;
}
