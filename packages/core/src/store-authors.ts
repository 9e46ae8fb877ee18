/**
 * Building blocks for a `CredentialStore` in a package of its own, so that its `lock()`
 * behaves as core's stores do: the same default timeout and option checks, the same
 * `AUTH_CANCELLED` error for an aborted wait, an in-process queue per key, and the check
 * that sessions pass to learn, while they wait, that the refresh they wait for landed.
 *
 * @module @latchkey/core/store
 */

export {
  type AcquireOptions,
  cancelledError,
  createKeyedMutex,
  DEFAULT_LOCK_TIMEOUT_MS,
  formatSeconds,
  type KeyedMutex,
  type LockOptionsWithCheck,
  type Release,
  resolveLockTimeout,
  SETTLED_WHILE_WAITING,
  throwIfAborted,
} from './store/locks.js';
