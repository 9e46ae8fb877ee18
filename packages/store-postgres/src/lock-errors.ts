import { LatchkeyError, type LockOptions } from '@latchkey/core';

/** How long `lock()` waits when the caller does not say, in milliseconds (as core's stores). */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/**
 * Reads and checks `timeoutMs` from lock options, the way core's stores do: default
 * 30 s, and a `TypeError` for a negative, infinite or non-numeric value.
 */
export function resolveLockTimeout(options: LockOptions | undefined): number {
  const timeoutMs = options?.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new TypeError(
      'Lock option `timeoutMs` must be a finite number of milliseconds, 0 or more',
    );
  }
  return timeoutMs;
}

/** Formats milliseconds as seconds with at most one decimal, e.g. `30 s`, `0.2 s`. */
export function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** The `AUTH_CANCELLED` error of a lock wait the host aborted; its cause is the signal's reason. */
export function cancelledError(signal: AbortSignal | undefined): LatchkeyError {
  return new LatchkeyError(
    'AUTH_CANCELLED',
    'The operation was cancelled while it waited for a credential store lock; nothing was changed. Start it again if it is still wanted.',
    { cause: signal?.reason },
  );
}

/** Throws the `AUTH_CANCELLED` error when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError(signal);
}
