/**
 * How a command body (src/services/*) talks to the person or program running it, without oclif: the same for the
 * oclif command classes (src/base.ts) and the fast path (src/fast-run.ts), so both print exactly the same bytes.
 */
import { toScreen } from './output.js';

/** What core may use to talk to the user while it works (see {@link Interactions}). */
export interface Interaction {
  onProgress?: (message: string) => void;
  confirm?: (question: string) => Promise<boolean>;
  signal: AbortSignal;
}

/** A command's output and interaction. */
export interface CommandIo {
  /** Whether output is JSON (`--json`, or DOCKMIRROR_CONTENT_TYPE=json as oclif reads it): no human lines then. */
  readonly json: boolean;
  /** Writes a line to stdout unless {@link json}, with every control character not dockmirror's own escaped. */
  say(line?: string): void;
  /** Writes a line to stderr the same way as {@link say}. */
  tell(line?: string): void;
  /** Writes `--json` output (see {@link jsonText}). */
  logJson(value: unknown): void;
  /** The spinner, the yes/no question and the abort signal for one run; the same object on every call. */
  interaction(): Interaction;
}

/**
 * `--json` output: two-space JSON, as oclif prints it. JSON.stringify escapes C0 controls but leaves DEL and the
 * C1 controls raw (0x9b is a CSI to many terminals); `\u00XX` escapes decode to the same strings, so machines
 * read exactly the same object. Never coloured: oclif would colour it only from a theme file in the user's
 * config folder, which root has no reason to read for machine output.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, undefined, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

/**
 * An io on the process's own streams. `console.log`/`console.error` are what oclif's `ux.stdout`/`ux.stderr`
 * end in (its `format` of one string is that string), so the bytes are the same either way.
 */
export function consoleIo(json: boolean, interaction: () => Interaction): CommandIo {
  return {
    json,
    say: (line = '') => {
      if (!json) console.log(toScreen(line));
    },
    tell: (line = '') => {
      if (!json) console.error(toScreen(line));
    },
    logJson: (value) => console.log(jsonText(value)),
    interaction,
  };
}
