import type { ErrorCode } from '@dockmirror/core';

/**
 * The one place error codes become exit codes. The README's exit code table mirrors this map.
 */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  UNEXPECTED: 1,
  USAGE: 2,
  INVALID_MIRROR: 2,
  INVALID_CONFIG: 3,
  PERMISSION: 4,
  APPLY_FAILED: 5,
  FLAG_CONFLICT: 5,
  DAEMON_UNREACHABLE: 5,
  DAEMON_ERROR: 5,
  VERIFY_FAILED: 6,
  DRIFT: 7,
  LOCKED: 8,
  WRITE_FAILED: 9,
  UNSAFE_PATH: 10,
  INTERRUPTED: 130,
};
