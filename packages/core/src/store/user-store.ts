import type { CredentialStore } from './types.js';

const MAX_USER_LENGTH = 512;

/**
 * Checks a host's id for a user: a non-empty string of at most 512 characters. `needs`
 * begins the `TypeError` message, naming the call and the option.
 */
export function assertUserId(user: unknown, needs: string): asserts user is string {
  if (typeof user !== 'string' || user === '' || user.length > MAX_USER_LENGTH) {
    throw new TypeError(`${needs}: a non-empty string of at most ${MAX_USER_LENGTH} characters`);
  }
}

/**
 * The part of a shared credential store that belongs to one of the host's users: every
 * key is kept under a prefix made from `user`, and `list()` sees that user's keys only,
 * so a store can serve many users and no call through this view reaches another user's
 * logins. Pass it wherever a store is taken (`authenticate()`, `accounts()`,
 * `forget()`); {@link startSignIn} and {@link finishSignIn} make it themselves from
 * their `user` option.
 *
 * The user id may be any string (it is percent-encoded into the prefix, so `/` cannot
 * reach another user's part); use the host's stable id, not a name or email that can change.
 *
 * @example
 * ```ts
 * import { accounts, userStore } from '@latchkey/core';
 *
 * const logins = await accounts(provider, { store: userStore(store, 'user-42') });
 * ```
 */
export function userStore(store: CredentialStore, user: string): CredentialStore {
  if (typeof store?.get !== 'function' || typeof store.lock !== 'function') {
    throw new TypeError('userStore() needs a CredentialStore');
  }
  assertUserId(user, "userStore() needs the host's id for the user");
  const prefix = `users/${encodeURIComponent(user)}/`;
  const checked = (key: string): string => {
    if (typeof key !== 'string') throw new TypeError('A credential store key must be a string');
    return `${prefix}${key}`;
  };
  return {
    get: (key) => store.get(checked(key)),
    set: (key, value) => store.set(checked(key), value),
    delete: (key) => store.delete(checked(key)),
    async list(keyPrefix = '') {
      const keys = await store.list(checked(keyPrefix));
      return keys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
    },
    lock: (key, fn, options) => store.lock(checked(key), fn, options),
  } satisfies CredentialStore;
}
