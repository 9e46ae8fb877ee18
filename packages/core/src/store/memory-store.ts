import { LatchkeyError } from '../errors.js';
import { createKeyedMutex, formatSeconds, resolveLockTimeout, throwIfAborted } from './locks.js';
import type { CredentialStore, JsonObject, LockOptions } from './types.js';

/**
 * Creates a credential store that keeps everything in memory, for tests and short-lived processes.
 *
 * Nothing is written anywhere and everything is lost when the process exits. Values
 * are deep-copied on the way in and on the way out, so callers never share state with
 * the store. `lock` excludes other callers in this process only.
 */
export function memoryStore(): CredentialStore {
  const entries = new Map<string, JsonObject>();
  const mutex = createKeyedMutex();

  const store = {
    async get(key: string): Promise<JsonObject | undefined> {
      assertKey(key);
      const value = entries.get(key);
      return value === undefined ? undefined : structuredClone(value);
    },

    async set(key: string, value: JsonObject): Promise<void> {
      assertKey(key);
      assertJsonObject(value);
      entries.set(key, structuredClone(value));
    },

    async delete(key: string): Promise<void> {
      assertKey(key);
      entries.delete(key);
    },

    async list(prefix?: string): Promise<string[]> {
      if (prefix !== undefined && typeof prefix !== 'string') {
        throw new TypeError('The prefix given to list() must be a string');
      }
      const start = prefix ?? '';
      return [...entries.keys()].filter((key) => key.startsWith(start)).sort();
    },

    async lock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
      assertKey(key);
      if (typeof fn !== 'function') throw new TypeError('lock() needs a function to run');
      const timeoutMs = resolveLockTimeout(options);
      const signal = options?.signal;
      throwIfAborted(signal);
      const release = await mutex.acquire(key, {
        timeoutMs,
        signal,
        onTimeout: () =>
          new LatchkeyError(
            'STORE_LOCKED',
            `Timed out after ${formatSeconds(timeoutMs)} waiting for the lock on credential key ${JSON.stringify(key)}: another operation in this process holds it. Try again when it has finished, or give lock() a longer timeoutMs.`,
          ),
      });
      try {
        return await fn();
      } finally {
        release();
      }
    },
  } satisfies CredentialStore;
  return store;
}

function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new TypeError('A credential store key must be a string');
}

function assertJsonObject(value: unknown): asserts value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('A credential store value must be a JSON object');
  }
}
