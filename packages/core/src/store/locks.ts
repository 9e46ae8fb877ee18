import { LatchkeyError } from '../errors.js';
import { MAX_TIMER_MS } from '../util/abort.js';
import type { JsonObject, LockOptions } from './types.js';

/**
 * A lock option that sessions pass: a check a store may run while it waits for a lock
 * held elsewhere (each time the holder may have left). When it gives a value, `lock()`
 * resolves with that value without running `fn`, and without taking the lock: what
 * the holder did already made `fn` needless. Stores that do not know it just wait.
 * It is a registered symbol (`Symbol.for`), the same in every copy of core; a store in
 * another package, such as `@latchkey/store-postgres`, imports it from
 * `@latchkey/core/store`.
 */
export const SETTLED_WHILE_WAITING: unique symbol = Symbol.for(
  '@latchkey/core.lock.settledWhileWaiting',
);

/**
 * Lock options with the {@link SETTLED_WHILE_WAITING} check that sessions pass. A store
 * that was sent the key's new value while it waited may pass `read`, which gives the
 * key's value as its `get` would (that value when it checks out, else what a read
 * finds): the check reads through it instead of calling `get`. A store that wraps
 * another and changes values (not only keys) must wrap `read` too, or not pass the
 * check on.
 */
export type LockOptionsWithCheck<T> = LockOptions & {
  [SETTLED_WHILE_WAITING]?: (
    read?: () => Promise<JsonObject | undefined>,
  ) => Promise<T | undefined>;
};

/** How long a store waits for a lock when the caller does not say, in milliseconds. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/**
 * Reads and checks `timeoutMs` from lock options.
 *
 * Falls back to {@link DEFAULT_LOCK_TIMEOUT_MS}; throws `TypeError` for a negative,
 * infinite or non-numeric value, since every wait must stay bounded.
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

/**
 * Formats a duration in milliseconds as seconds for error messages.
 *
 * Keeps at most one decimal, e.g. `30 s`, `0.1 s`.
 */
export function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/**
 * The error a store raises when the host aborts a wait for a lock.
 *
 * Its code is `AUTH_CANCELLED` and its cause is the signal's reason.
 */
export function cancelledError(signal: AbortSignal | undefined): LatchkeyError {
  return new LatchkeyError(
    'AUTH_CANCELLED',
    'The operation was cancelled while it waited for a credential store lock; nothing was changed. Start it again if it is still wanted.',
    { cause: signal?.reason },
  );
}

/**
 * Throws the `AUTH_CANCELLED` error when `signal` is aborted.
 *
 * Does nothing without a signal.
 */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError(signal);
}

/** Options of {@link KeyedMutex.acquire}. */
export interface AcquireOptions {
  /** How long to wait in the queue before rejecting with `onTimeout()`. */
  timeoutMs: number;
  /** Stops waiting when aborted; the rejection is `AUTH_CANCELLED`. */
  signal?: AbortSignal | undefined;
  /** Builds the error (normally `STORE_LOCKED`) thrown when the wait times out. */
  onTimeout: () => Error;
}

/** Gives the lock back. Calling it more than once does nothing. */
export type Release = () => void;

/**
 * An in-process asynchronous mutex per string key, served first in, first out.
 *
 * Waiters that time out or are aborted leave the queue at once, so they never
 * receive the lock and never hold up the ones behind them.
 */
export interface KeyedMutex {
  /** Waits until the lock on `key` is free, takes it and resolves with its {@link Release}. */
  acquire(key: string, options: AcquireOptions): Promise<Release>;
}

interface Waiter {
  grant(release: Release): void;
}

/**
 * Creates a {@link KeyedMutex}.
 *
 * A key takes memory only while its lock is held or waited for.
 */
export function createKeyedMutex(): KeyedMutex {
  // A key is present while its lock is held; the array holds the waiters in order.
  const queues = new Map<string, Waiter[]>();

  const releaseFor = (key: string): Release => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const queue = queues.get(key);
      const next = queue?.shift();
      if (next) next.grant(releaseFor(key));
      else queues.delete(key);
    };
  };

  const mutex = {
    acquire(key: string, options: AcquireOptions): Promise<Release> {
      const { signal } = options;
      if (signal?.aborted) return Promise.reject(cancelledError(signal));
      const queue = queues.get(key);
      if (!queue) {
        queues.set(key, []);
        return Promise.resolve(releaseFor(key));
      }
      if (options.timeoutMs <= 0) return Promise.reject(options.onTimeout());

      return new Promise<Release>((resolve, reject) => {
        const cleanup = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        };
        const leave = (): void => {
          cleanup();
          const index = queue.indexOf(waiter);
          if (index !== -1) queue.splice(index, 1);
        };
        const onAbort = (): void => {
          leave();
          reject(cancelledError(signal));
        };
        const waiter: Waiter = {
          grant(release) {
            cleanup();
            resolve(release);
          },
        };
        const timer = setTimeout(
          () => {
            leave();
            reject(options.onTimeout());
          },
          Math.min(options.timeoutMs, MAX_TIMER_MS),
        );
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(waiter);
      });
    },
  } satisfies KeyedMutex;
  return mutex;
}
