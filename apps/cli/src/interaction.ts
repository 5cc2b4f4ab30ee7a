/**
 * The spinner, the yes/no question and Ctrl-C handling of one command run, for both the oclif classes and the
 * fast path. The spinner is oclif's `ux.action`, handed in: the oclif path has it loaded anyway, the fast path
 * loads it only when stderr is a terminal (the only time a spinner is shown).
 */
import type { Interaction } from './command-io.js';
import { toScreen } from './output.js';

/** What {@link Interactions} needs of oclif's `ux.action`. */
export interface Spinner {
  readonly running: boolean;
  status: string | undefined;
  start(message: string): void;
  stop(message?: string): void;
}

/** One run's interaction with the user; {@link finish} it once the command is done. */
export class Interactions {
  readonly #json: () => boolean;
  readonly #spinner: Spinner | undefined;
  #interrupt: { controller: AbortController; stop: () => void } | undefined;

  /** `json` is asked when {@link interaction} is first called (after parsing); no `spinner` means none runs. */
  constructor(json: () => boolean, spinner: Spinner | undefined) {
    this.#json = json;
    this.#spinner = spinner;
  }

  get #running(): boolean {
    return this.#spinner?.running ?? false;
  }

  /**
   * How core may talk to the user while it works: a spinner on stderr while waiting on the daemon, and a yes/no
   * question before a restart that stops containers. Neither exists without a terminal or with `--json`, so
   * core then refuses such a restart unless `--yes` was given.
   */
  interaction(): Interaction {
    const signal = this.#interruptible();
    if (this.#json()) return { signal };
    const spinner = this.#spinner;
    const progress =
      process.stderr.isTTY && spinner
        ? { onProgress: (message: string) => (spinner.running ? (spinner.status = toScreen(message)) : spinner.start(toScreen(message))) }
        : {};
    // stdout first: process.stdin is made on first use (2 ms here), and a script's stdout is seldom a terminal.
    const prompt =
      process.stdout.isTTY && process.stdin.isTTY
        ? {
            confirm: async (question: string) => {
              if (this.#running) spinner?.stop('waiting for you');
              const { default: confirm } = await import('@inquirer/confirm');
              return confirm({ message: toScreen(question), default: false });
            },
          }
        : {};
    return { ...progress, ...prompt, signal };
  }

  /**
   * Ctrl-C (SIGINT) and SIGTERM during a change abort core's waits instead of killing the process: core then
   * says in one line what daemon.json and the daemon hold and what to run, and the lock is released on the way
   * out. A second signal exits at once (130), as a user pressing Ctrl-C twice expects.
   */
  #interruptible(): AbortSignal {
    if (this.#interrupt) return this.#interrupt.controller.signal;
    const controller = new AbortController();
    const onSignal = (): void => {
      if (controller.signal.aborted) process.exit(130);
      if (this.#running) this.#spinner?.stop('interrupted');
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

  /** The run is over: signals are the default again, and a spinner still running says how it ended. */
  finish(error: unknown): void {
    this.#interrupt?.stop();
    if (this.#running) this.#spinner?.stop(error ? 'failed' : 'done');
  }
}
