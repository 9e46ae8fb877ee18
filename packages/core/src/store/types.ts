/** A JSON value as a credential store keeps it. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A JSON object as a credential store keeps it. */
export type JsonObject = { [key: string]: JsonValue };

/** Options of {@link CredentialStore.lock}. */
export interface LockOptions {
  /** How long to wait for the lock before failing with `STORE_LOCKED`. Default 30 s. */
  timeoutMs?: number;
  /** Stops waiting for the lock when aborted (the error is `AUTH_CANCELLED`). */
  signal?: AbortSignal;
}

/**
 * The driver interface every credential store implements. Keys are opaque strings
 * built by Latchkey (provider id, account, and for `mcp` the issuer). Values are JSON
 * objects that hold secret values in clear: a store is trusted with them and must
 * protect them at rest.
 *
 * `lock` gives mutual exclusion per key, across processes when the store is shared
 * between processes, and is what makes a refresh happen once at a time.
 */
export interface CredentialStore {
  /** Reads the value under `key`, or `undefined` when there is none. */
  get(key: string): Promise<JsonObject | undefined>;
  /** Writes `value` under `key`, replacing what was there, atomically. */
  set(key: string, value: JsonObject): Promise<void>;
  /** Removes `key`. Removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Lists the keys that start with `prefix` (all keys without one), sorted. */
  list(prefix?: string): Promise<string[]>;
  /**
   * Runs `fn` while holding an exclusive lock on `key` and returns its result. The
   * lock is released on every path. Locks are not reentrant: do not take the same
   * key's lock inside `fn`.
   */
  lock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>;
}
