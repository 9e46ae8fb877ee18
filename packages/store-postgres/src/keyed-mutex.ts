import { cancelledError } from './lock-errors.js';

/** Gives a lock of {@link KeyedMutex} back. Calling it more than once does nothing. */
export type Release = () => void;

/** Options of {@link KeyedMutex.acquire}. */
export interface AcquireOptions {
  /** How long to wait in the queue before rejecting with `onTimeout()`. */
  timeoutMs: number;
  /** Stops waiting when aborted; the rejection is `AUTH_CANCELLED`. */
  signal?: AbortSignal | undefined;
  /** Builds the error (`STORE_LOCKED`) thrown when the wait times out. */
  onTimeout: () => Error;
}

/**
 * An in-process mutex per string key, served first in, first out. Waiters that time
 * out or are aborted leave the queue at once.
 */
export interface KeyedMutex {
  /** Waits until the lock on `key` is free, takes it and resolves with its {@link Release}. */
  acquire(key: string, options: AcquireOptions): Promise<Release>;
}

/** Creates a {@link KeyedMutex}; a key takes memory only while it is held or waited for. */
export function createKeyedMutex(): KeyedMutex {
  // A key is present while its lock is held; the array holds the waiters in order.
  const queues = new Map<string, ((release: Release) => void)[]>();

  const releaseFor = (key: string): Release => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = queues.get(key)?.shift();
      if (next) next(releaseFor(key));
      else queues.delete(key);
    };
  };

  return {
    acquire(key, { timeoutMs, signal, onTimeout }) {
      if (signal?.aborted) return Promise.reject(cancelledError(signal));
      const queue = queues.get(key);
      if (!queue) {
        queues.set(key, []);
        return Promise.resolve(releaseFor(key));
      }
      if (timeoutMs <= 0) return Promise.reject(onTimeout());
      return new Promise<Release>((resolve, reject) => {
        const leave = (error: Error) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const index = queue.indexOf(grant);
          if (index !== -1) queue.splice(index, 1);
          reject(error);
        };
        const onAbort = () => leave(cancelledError(signal));
        const grant = (release: Release) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        };
        const timer = setTimeout(() => leave(onTimeout()), Math.min(timeoutMs, MAX_TIMER_MS));
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(grant);
      });
    },
  } satisfies KeyedMutex;
}

/** The longest delay `setTimeout` accepts (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
