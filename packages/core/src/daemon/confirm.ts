/**
 * Proving the live daemon took the change. A reload is asynchronous and a rejected one is only logged, so the
 * only evidence is `GET /info` showing the expected registry settings.
 */
import { DaemonUnreachableError } from '../errors.js';
import type { Engine } from './engine.js';
import { type ExpectedRegistry, type LiveRegistry, registryMismatch } from './registry-config.js';

/** Outcome of {@link confirmLive}. */
export interface ConfirmResult {
  /** True when the live settings matched before the deadline. */
  ok: boolean;
  /** The last live settings read, if the daemon answered at all. */
  live?: LiveRegistry;
  /** Why it did not match (or that the daemon never answered). */
  mismatch?: string;
  /** How long confirming took. */
  elapsedMs: number;
}

/** Options of {@link confirmLive}. */
export interface ConfirmOptions {
  /** Poll interval; default 100 ms (dockerd 20.10 applies a reload within ~100 ms here). */
  intervalMs?: number;
  /** Called after each poll that did not match yet. */
  onTick?: (elapsedMs: number, mismatch: string) => void;
}

/**
 * Poll `/info` until the live registry settings equal `expected` or `timeoutMs` passes. A daemon that does not
 * answer (restarting) is waited for with `/_ping` first; one that answers at once (a reload) is asked `/info`
 * straight away, which spares a round trip on every reload. Never throws for an unreachable daemon: that is
 * reported as `ok: false` so the caller can roll back.
 */
export async function confirmLive(
  engine: Engine,
  expected: ExpectedRegistry,
  timeoutMs: number,
  options: ConfirmOptions = {},
): Promise<ConfirmResult> {
  const start = Date.now();
  const elapsed = (): number => Date.now() - start;
  const intervalMs = options.intervalMs ?? 100;
  let live: LiveRegistry | undefined;
  let mismatch = 'not checked';
  let justPinged = false;
  for (;;) {
    try {
      live = await engine.liveRegistry(Math.max(500, Math.min(5_000, timeoutMs - elapsed())));
      const difference = registryMismatch(live, expected);
      if (difference === undefined) return { ok: true, live, elapsedMs: elapsed() };
      mismatch = difference;
      justPinged = false;
    } catch (error) {
      // A restarting daemon refuses connections, or drops them between ping and info; keep at it until the deadline.
      if (!(error instanceof DaemonUnreachableError)) throw error;
      mismatch = error.message;
      if (!justPinged) {
        // Wait for the daemon to come back, then ask /info at once.
        if (!(await engine.waitForPing(Math.max(1, timeoutMs - elapsed())))) {
          return { ok: false, mismatch: `the daemon at ${engine.endpoint} did not answer /_ping within ${timeoutMs} ms`, elapsedMs: elapsed() };
        }
        justPinged = true;
        continue;
      }
      justPinged = false;
    }
    options.onTick?.(elapsed(), mismatch);
    if (elapsed() + intervalMs > timeoutMs) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return { ok: false, ...(live ? { live } : {}), mismatch, elapsedMs: elapsed() };
}
