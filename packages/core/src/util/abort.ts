import { LatchkeyError } from '../errors.js';

/** `setTimeout` fires at once for delays above 2^31 - 1 ms; longer waits are clamped to this. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A signal that fires on the caller's signal or after `timeoutMs`, whichever comes first. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Turns the abort reason into the right `LatchkeyError` (`AUTH_TIMEOUT` or `AUTH_CANCELLED`). */
  error(what: string): LatchkeyError;
  /** Stops the timer. */
  dispose(): void;
}

/** Combines an optional host signal with a timeout. */
export function deadline(timeoutMs: number, signal?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  // Node fires longer timers at once; such a deadline is as good as none.
  const timer = setTimeout(
    () => {
      timedOut = true;
      controller.abort(new Error('timeout'));
    },
    Math.min(Math.max(timeoutMs, 0), MAX_TIMER_MS),
  );
  timer.unref?.();
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    error(what) {
      if (timedOut) {
        return new LatchkeyError(
          'AUTH_TIMEOUT',
          `${what} did not finish within ${Math.round(timeoutMs / 1000)} s. Start again and complete it sooner, or pass a larger timeoutMs.`,
        );
      }
      return new LatchkeyError('AUTH_CANCELLED', `${what} was cancelled by the application.`);
    },
    dispose() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * Resolves after `ms`, or rejects with the signal's reason when it aborts first. The
 * timer and the abort listener are both removed on every path.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.min(Math.max(ms, 0), MAX_TIMER_MS),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Rejects as soon as `signal` aborts; otherwise settles like `promise`. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
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
