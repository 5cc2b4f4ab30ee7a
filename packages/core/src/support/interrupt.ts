/**
 * Ctrl-C and SIGTERM reach core as an AbortSignal (core never installs signal handlers: the CLI does). Every
 * wait on the daemon or the lock ends at once when it fires, with an {@link InterruptedError} that the change
 * turns into one line saying what state it left.
 */
import { InterruptedError } from '../errors.js';

/** The error every wait throws once `signal` fired; the caller rewrites its message with what was left. */
export function interrupted(): InterruptedError {
  return new InterruptedError('Interrupted; nothing was written.', { details: { interrupted: true } });
}

/** Throws {@link InterruptedError} when `signal` has fired. */
export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw interrupted();
}

/** `work`, or an {@link InterruptedError} as soon as `signal` fires (the work itself runs on to its own deadline). */
export function untilInterrupted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(interrupted());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(interrupted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Sleeps `ms`, or throws {@link InterruptedError} as soon as `signal` fires. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return untilInterrupted(new Promise<void>((resolve) => setTimeout(resolve, ms)), signal);
}
