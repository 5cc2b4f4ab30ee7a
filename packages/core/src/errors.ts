/**
 * Every failure dockmirror reports is a {@link DockmirrorError} with a stable string `code`. The CLI maps codes
 * to exit codes in one place; library users switch on `code` rather than on classes or message text.
 */

/** The stable codes a {@link DockmirrorError} can carry. */
export type ErrorCode =
  | 'USAGE'
  | 'INVALID_MIRROR'
  | 'INVALID_CONFIG'
  | 'PERMISSION'
  | 'APPLY_FAILED'
  | 'FLAG_CONFLICT'
  | 'VERIFY_FAILED'
  | 'DRIFT'
  | 'LOCKED'
  | 'WRITE_FAILED'
  | 'UNSAFE_PATH'
  | 'DAEMON_UNREACHABLE'
  | 'DAEMON_ERROR'
  | 'INTERRUPTED'
  | 'UNEXPECTED';

/** Where in a file a problem sits; line and column are 1-based. */
export interface FileLocation {
  /** Absolute path of the file. */
  file: string;
  /** 1-based line, when the problem has a position. */
  line?: number;
  /** 1-based column, when the problem has a position. */
  column?: number;
}

/** Options shared by every dockmirror error. */
export interface DockmirrorErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** The file involved, with a position when one is known. */
  location?: FileLocation;
  /** One line telling the user what to do next. */
  hint?: string;
  /** Extra machine-readable facts (for `--json`). */
  details?: Record<string, unknown>;
}

/** Base class of every error dockmirror throws on purpose. */
export class DockmirrorError extends Error {
  /** Stable machine-readable kind of failure. */
  readonly code: ErrorCode;
  /** The file (and position) involved, if any. */
  readonly location: FileLocation | undefined;
  /** What the user should do next. */
  readonly hint: string | undefined;
  /** Extra machine-readable facts. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: DockmirrorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.location = options.location;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** A plain object for `--json` output. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.location ? { location: this.location } : {}),
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** A command was called wrongly (unknown preset, bad flag combination). */
export class UsageError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('USAGE', message, options);
  }
}

/** A mirror URL that dockerd would refuse. */
export class InvalidMirrorError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('INVALID_MIRROR', message, options);
  }
}

/** daemon.json cannot be read, or dockerd would refuse its content. */
export class InvalidConfigError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('INVALID_CONFIG', message, options);
  }
}

/** The operating system refused access to a file. */
export class PermissionDeniedError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('PERMISSION', message, options);
  }
}

/** The daemon did not take the change; daemon.json was restored. */
export class ApplyError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('APPLY_FAILED', message, options);
  }
}

/** A dockerd flag sets the same key the change would write; nothing was written. */
export class FlagConflictError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('FLAG_CONFLICT', message, options);
  }
}

/** The Docker Engine API could not be reached. */
export class DaemonUnreachableError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('DAEMON_UNREACHABLE', message, options);
  }
}

/** The Docker daemon answered a request with an error (a daemon problem, not a dockmirror bug). */
export class DaemonError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('DAEMON_ERROR', message, options);
  }
}

/** A mirror failed one or more verification checks. */
export class VerificationError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('VERIFY_FAILED', message, options);
  }
}

/** daemon.json changed since dockmirror last wrote it. */
export class DriftError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('DRIFT', message, options);
  }
}

/** Another dockmirror process held the lock for longer than the wait allows. */
export class LockTimeoutError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('LOCKED', message, options);
  }
}

/** A write could not be completed and checked (disk full, quota, I/O error, read-back mismatch); nothing changed. */
export class WriteFailedError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('WRITE_FAILED', message, options);
  }
}

/**
 * A path another user could control (a folder they own or may write, their symlink, a state file that is not a
 * regular file) was refused rather than trusted; nothing was read from it or written through it.
 */
export class UnsafePathError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('UNSAFE_PATH', message, options);
  }
}

/**
 * The run was interrupted (Ctrl-C, SIGTERM) before it finished. The message says what state daemon.json and the
 * daemon were left in, which backup holds the old bytes, and what to run; the lock is released and the journal
 * stays settleable by the next run.
 */
export class InterruptedError extends DockmirrorError {
  constructor(message: string, options?: DockmirrorErrorOptions) {
    super('INTERRUPTED', message, options);
  }
}

/**
 * dockmirror itself went wrong (a check that guards its own edits failed): never the user's input. Exit 1;
 * the hint asks for a report, and the files are untouched, because every such check runs before a write.
 */
export class BugError extends DockmirrorError {
  constructor(message: string, options: DockmirrorErrorOptions = {}) {
    super('UNEXPECTED', message, { hint: 'This is a bug in dockmirror: please report it with the command and the file (the original is untouched).', ...options });
  }
}

/**
 * The one refusal of bytes dockmirror itself produced for `file` (they do not parse, or change more than the
 * mirror settings): a bug, thrown before anything is written. `what` says what was produced.
 */
export function producedBug(file: string, what: string, cause?: unknown): BugError {
  return new BugError(`${file}: dockmirror produced ${what}; nothing was written.`, { location: { file }, ...(cause === undefined ? {} : { cause }) });
}
