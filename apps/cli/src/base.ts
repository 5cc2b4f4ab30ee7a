import { Command, Errors, ux } from '@oclif/core';
import { jsonText, type CommandIo, type Interaction } from './command-io.js';
import { reportFailure } from './failure.js';
import { Interactions } from './interaction.js';
import { toScreen } from './output.js';

/**
 * Every dockmirror command: `--json` on, and one error path (src/failure.ts, shared with the fast path). The
 * output, the interaction and the failure report are the same modules the fast path (src/fast-run.ts) uses, so
 * a command prints the same bytes whichever way it was started.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  readonly #interactions = new Interactions(() => this.jsonEnabled(), ux.action);

  /** This command's output and interaction, for a command body in src/services. */
  protected get io(): CommandIo {
    return {
      json: this.jsonEnabled(),
      say: (line) => this.say(line),
      tell: (line) => this.tell(line),
      logJson: (value) => this.logJson(value),
      interaction: () => this.interaction(),
    };
  }

  /** Writes a line to stdout unless `--json` is on, with every control character not dockmirror's own escaped. */
  protected say(line = ''): void {
    if (!this.jsonEnabled()) this.log(toScreen(line));
  }

  /** Writes a line to stderr the same way as {@link say}. */
  protected tell(line = ''): void {
    this.logToStderr(toScreen(line));
  }

  /** `--json` output, as {@link jsonText} renders it. */
  override logJson(json: unknown): void {
    ux.stdout(jsonText(json));
  }

  /** See {@link Interactions.interaction}. */
  protected interaction(): Interaction {
    return this.#interactions.interaction();
  }

  override async finally(error: Error | undefined): Promise<void> {
    this.#interactions.finish(error);
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
    this.exit(reportFailure(error, this.io));
  }
}
