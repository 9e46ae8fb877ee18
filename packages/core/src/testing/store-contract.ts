import assert from 'node:assert/strict';
import type { CredentialStore, JsonObject } from '../store/types.js';
import {
  type Attempt,
  attempt,
  describeError,
  equal,
  rejectedWith,
  rejectedWithCode,
  resolved,
  resolvedTo,
  show,
} from './outcomes.js';

/**
 * A fresh, empty credential store for one contract case, and how to dispose of it.
 *
 * @see {@link CredentialStore} for the interface the store implements.
 */
export interface StoreFixture {
  /** The store under test. It must hold no keys. */
  readonly store: CredentialStore;
  /** Disposes of the store (files, handles); called once per case when it ends, pass or fail. */
  cleanup(): Promise<void>;
}

/**
 * One check of the credential store contract, as a plain async function any test runner can run.
 *
 * @see {@link storeContractCases} for how to run the cases.
 */
export interface StoreContractCase {
  /** What the case checks, phrased as a test title. */
  readonly name: string;
  /**
   * Runs the check against a fresh fixture and rejects, with an `AssertionError` that says
   * what the store did wrong, when the store breaks the contract. It needs no `this`, so
   * it can be handed to a runner as it is: `it(c.name, c.run)`.
   */
  readonly run: () => Promise<void>;
}

/**
 * Builds the cases every {@link CredentialStore} must pass, for a host that writes its own store.
 *
 * Each case calls `make` for a fresh, empty store, checks it with `node:assert/strict`,
 * and calls the fixture's `cleanup` when it ends, pass or fail, so no `beforeEach` or
 * `afterEach` is needed. The cases cover reads, writes, deletes and sorted listing with
 * awkward keys, copying of values in both directions, and `lock`: mutual exclusion per
 * key, release on errors, `timeoutMs` (`STORE_LOCKED`) and `signal` (`AUTH_CANCELLED`).
 * A passing case takes well under a second; a store that breaks the contract can make one
 * wait up to 10 s, and one that never settles a call makes it hang, so run the cases under
 * a per-test timeout.
 *
 * @example With Vitest
 * ```ts
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { fileStore } from '@latchkey/core';
 * import { storeContractCases } from '@latchkey/core/testing';
 * import { describe, it } from 'vitest';
 *
 * describe('fileStore: CredentialStore contract', () => {
 *   const make = async () => {
 *     const dir = await mkdtemp(join(tmpdir(), 'store-'));
 *     return { store: fileStore({ directory: dir }), cleanup: () => rm(dir, { recursive: true }) };
 *   };
 *   for (const c of storeContractCases(make)) it(c.name, c.run);
 * });
 * ```
 *
 * @example With node:test
 * ```ts
 * import { describe, test } from 'node:test';
 * import { memoryStore } from '@latchkey/core';
 * import { storeContractCases } from '@latchkey/core/testing';
 *
 * describe('memoryStore: CredentialStore contract', () => {
 *   const make = async () => ({ store: memoryStore(), cleanup: async () => {} });
 *   for (const c of storeContractCases(make)) test(c.name, { timeout: 15_000 }, c.run);
 * });
 * ```
 *
 * @see {@link CredentialStore} for the contract, method by method.
 */
export function storeContractCases(
  make: () => Promise<StoreFixture>,
): readonly StoreContractCase[] {
  if (typeof make !== 'function') {
    throw new TypeError('storeContractCases() needs a function that makes a fresh store fixture');
  }
  const define = (name: string, body: (context: CaseContext) => Promise<void>) =>
    Object.freeze({ name, run: () => runCase(make, body) }) satisfies StoreContractCase;
  return Object.freeze(CASES.map(([name, body]) => define(name, body)));
}

/** What a case body gets: the store, and a way to hold a lock that is let go when the case ends. */
interface CaseContext {
  readonly store: CredentialStore;
  hold(key: string): Promise<HeldLock>;
}

/** A lock taken by {@link CaseContext.hold}, held until `release()`. */
interface HeldLock {
  /** Lets the holder's fn return, which releases the lock. Calling it again does nothing. */
  release(): void;
  /** How the holder's `lock()` call settled; its value is `'held'`. */
  readonly done: Promise<Attempt<unknown>>;
}

/** How long a case waits at its end for held locks to be let go before it cleans up. */
const RELEASE_GRACE_MS = 1_000;

async function runCase(
  make: () => Promise<StoreFixture>,
  body: (context: CaseContext) => Promise<void>,
): Promise<void> {
  const fixture = await make();
  const held: HeldLock[] = [];
  let failure: { error: unknown } | undefined;
  try {
    await body({
      store: fixture.store,
      hold: (key) => holdLock(fixture.store, key, held),
    });
  } catch (error) {
    failure = { error };
  }
  // A failed case may leave locks held; let them go so cleanup does not race their release.
  for (const lock of held) lock.release();
  await Promise.all(held.map((lock) => settledWithin(lock.done, RELEASE_GRACE_MS)));
  try {
    await fixture.cleanup();
  } catch (error) {
    // What the store did wrong matters more than a cleanup that failed after it.
    if (failure === undefined) throw error;
  }
  if (failure !== undefined) throw failure.error;
}

async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise.then(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Starts a lock on `key` that is held until the returned `release()` is called. */
async function holdLock(store: CredentialStore, key: string, held: HeldLock[]): Promise<HeldLock> {
  const acquired = deferred();
  const gate = deferred();
  const done = attempt(`lock(${show(key)}) of the holder`, () =>
    store.lock(key, async () => {
      acquired.resolve();
      await gate.promise;
      return 'held';
    }),
  );
  const lock: HeldLock = { release: gate.resolve, done };
  held.push(lock);
  const early = await Promise.race([acquired.promise.then(() => undefined), done]);
  if (early !== undefined) {
    assert.fail(
      `lock(${show(key)}) on a free key ${early.ok ? `resolved with ${show(early.value)}` : `rejected with ${describeError(early.error)}`} without running fn`,
    );
  }
  return lock;
}

const SPECIAL_KEYS = [
  'github/alice@example.com',
  'mcp:https://issuer.example.com/tenant',
  'a.b.c',
  'a/b/c',
  'with space',
  'ünïcödé-✓-日本語-🔑',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  '__internal__',
  '',
];

const LISTED_KEYS = ['b/2', 'a/1', 'b/1', 'c', 'a/10', 'ab'];

const ROUND_TRIPPED = (): JsonObject => ({
  accessToken: 'at-123',
  expiresAt: 1_700_000_000_000,
  scopes: ['read', 'write'],
  nested: { refreshable: true, none: null, text: 'ünï ✓' },
});

const CASES: readonly (readonly [string, (context: CaseContext) => Promise<void>])[] = [
  [
    'returns undefined for a missing key, including names of Object.prototype members',
    async ({ store }) => {
      for (const key of ['missing', 'constructor', 'toString', '__proto__']) {
        equal(await store.get(key), undefined, `get(${show(key)}) on an empty store`);
      }
      equal(await store.list(), [], 'list() on an empty store');
    },
  ],

  [
    'round-trips a value by deep equality, without aliasing either side',
    async ({ store }) => {
      const value = ROUND_TRIPPED();
      await store.set('k', value);
      // The caller changes its object after set: the store must not see it.
      (value.nested as { refreshable: boolean }).refreshable = false;
      (value.scopes as string[]).push('admin');
      value.accessToken = 'changed';

      const first = await store.get('k');
      equal(
        first,
        ROUND_TRIPPED(),
        "get('k') after the caller changed the object it had given to set('k')",
      );
      assert.notEqual(
        first,
        value,
        "get('k') returned the very object given to set('k'); the store must keep a copy",
      );

      // Changing what get returned must not change what is stored either.
      (first as { accessToken: string }).accessToken = 'mutated';
      (first?.scopes as string[]).length = 0;
      const second = await store.get('k');
      const after = "get('k') after the caller changed the object an earlier get('k') returned";
      equal(second?.accessToken, 'at-123', `${after}, .accessToken,`);
      equal(second?.scopes, ['read', 'write'], `${after}, .scopes,`);
      assert.notEqual(
        second,
        first,
        "get('k') returned the same object twice; each get must return a fresh copy",
      );
    },
  ],

  [
    'overwrites a value',
    async ({ store }) => {
      await store.set('k', { v: 1, old: true });
      await store.set('k', { v: 2 });
      equal(
        await store.get('k'),
        { v: 2 },
        "get('k') after set('k', { v: 1, old: true }) then set('k', { v: 2 })",
      );
      equal(await store.list(), ['k'], "list() after setting 'k' twice");
    },
  ],

  [
    'deletes a key, leaves the others, and ignores a missing key',
    async ({ store }) => {
      await store.set('a', { v: 1 });
      await store.set('b', { v: 2 });
      await store.delete('a');
      equal(await store.get('a'), undefined, "get('a') after delete('a')");
      equal(await store.get('b'), { v: 2 }, "get('b') after delete('a')");
      resolvedTo(
        await attempt("delete('a') of a key already deleted", () => store.delete('a')),
        undefined,
      );
      resolvedTo(
        await attempt("delete('never-set') of a key never set", () => store.delete('never-set')),
        undefined,
      );
      equal(await store.list(), ['b'], "list() after setting 'a' and 'b' and deleting 'a'");
    },
  ],

  [
    'lists keys sorted, with and without a prefix',
    async ({ store }) => {
      for (const key of LISTED_KEYS) await store.set(key, { key });
      const all = ['a/1', 'a/10', 'ab', 'b/1', 'b/2', 'c'];
      const after = `after setting ${show(LISTED_KEYS)}`;
      equal(await store.list(), all, `list() ${after}`);
      equal(await store.list('a/'), ['a/1', 'a/10'], `list('a/') ${after}`);
      equal(await store.list('a'), ['a/1', 'a/10', 'ab'], `list('a') ${after}`);
      equal(await store.list('b/'), ['b/1', 'b/2'], `list('b/') ${after}`);
      equal(await store.list('zzz'), [], `list('zzz') ${after}`);
      equal(await store.list(''), all, `list('') ${after}`);
    },
  ],

  [
    'keeps keys with slashes, dots, colons, spaces, unicode and prototype names apart',
    async ({ store }) => {
      for (const [index, key] of SPECIAL_KEYS.entries()) await store.set(key, { index, key });
      const after = `after setting ${show(SPECIAL_KEYS)}, each to { index, key }`;
      for (const [index, key] of SPECIAL_KEYS.entries()) {
        equal(await store.get(key), { index, key }, `get(${show(key)}) ${after}`);
      }
      equal(await store.list(), [...SPECIAL_KEYS].sort(), `list() ${after}`);
      equal(await store.list('a.'), ['a.b.c'], `list('a.') ${after}`);
      equal(await store.list('__'), ['__internal__', '__proto__'], `list('__') ${after}`);
      // Nothing leaked onto Object.prototype.
      for (const name of ['index', 'key']) {
        assert.equal(
          ({} as Record<string, unknown>)[name],
          undefined,
          `Object.prototype.${name} is set ${after}: the store wrote a value onto Object.prototype`,
        );
      }

      await store.delete('__proto__');
      await store.delete('__internal__');
      await store.delete('a.b.c');
      const deleted = ['__proto__', '__internal__', 'a.b.c'];
      const afterDelete = `${after}, then deleting ${show(deleted)}`;
      for (const key of deleted) {
        equal(await store.get(key), undefined, `get(${show(key)}) ${afterDelete}`);
      }
      equal(await store.get('a/b/c'), { index: 3, key: 'a/b/c' }, `get('a/b/c') ${afterDelete}`);
      equal(
        await store.list(),
        SPECIAL_KEYS.filter((k) => !deleted.includes(k)).sort(),
        `list() ${afterDelete}`,
      );
    },
  ],

  [
    'returns what fn returns',
    async ({ store }) => {
      resolvedTo(
        await attempt("lock('k', fn) where fn returns { answer: 42 }", () =>
          store.lock('k', async () => ({ answer: 42 })),
        ),
        { answer: 42 },
      );
    },
  ],

  [
    'never runs two holders of the same key at once, and runs them all in order',
    async ({ store }) => {
      let active = 0;
      let maxActive = 0;
      const order: number[] = [];
      const runs = Array.from({ length: 8 }, (_, i) =>
        attempt(`lock('shared', fn #${i}) of 8 at once`, () =>
          store.lock('shared', async () => {
            active += 1;
            maxActive = Math.max(maxActive, active);
            await delay(10);
            order.push(i);
            active -= 1;
            return i;
          }),
        ),
      );
      const results = (await Promise.all(runs)).map(resolved);
      equal(results, [0, 1, 2, 3, 4, 5, 6, 7], "8 calls of lock('shared', fn #i => i) at once");
      assert.equal(
        maxActive,
        1,
        `lock('shared') let ${maxActive} holders run fn at once; it must let one in at a time`,
      );
      equal(
        [...order].sort((a, b) => a - b),
        [0, 1, 2, 3, 4, 5, 6, 7],
        "the fns that ran to the end, of 8 calls of lock('shared', fn) at once,",
      );
    },
  ],

  [
    'does not make different keys wait for each other',
    async ({ store, hold }) => {
      const held = await hold('first');
      let ran = false;
      // Would time out if 'second' waited for 'first'.
      resolved(
        await attempt("lock('second', { timeoutMs: 2000 }) while 'first' is held", () =>
          store.lock(
            'second',
            async () => {
              ran = true;
            },
            { timeoutMs: 2_000 },
          ),
        ),
      );
      assert.equal(ran, true, "lock('second') resolved without running fn");
      held.release();
      resolvedTo(await held.done, 'held');
    },
  ],

  [
    'releases the lock when fn throws and propagates the error as it is',
    async ({ store }) => {
      const boom = new Error('boom');
      rejectedWith(
        await attempt("lock('k', fn) where fn rejects", () =>
          store.lock('k', async () => {
            throw boom;
          }),
        ),
        boom,
      );
      // A synchronous throw from a non-async fn is handled the same way.
      const syncBoom = new RangeError('sync boom');
      rejectedWith(
        await attempt("lock('k', fn) where fn throws synchronously", () =>
          store.lock('k', (() => {
            throw syncBoom;
          }) as unknown as () => Promise<void>),
        ),
        syncBoom,
      );
      resolvedTo(
        await attempt(
          "lock('k', { timeoutMs: 1000 }) after fn threw (the lock must have been released)",
          () => store.lock('k', async () => 'again', { timeoutMs: 1_000 }),
        ),
        'again',
      );
    },
  ],

  [
    'fails with STORE_LOCKED after timeoutMs without running fn',
    async ({ store, hold }) => {
      const held = await hold('k');
      let ran = false;
      const started = Date.now();
      rejectedWithCode(
        await attempt("lock('k', { timeoutMs: 150 }) while 'k' is held", () =>
          store.lock(
            'k',
            async () => {
              ran = true;
            },
            { timeoutMs: 150 },
          ),
        ),
        'STORE_LOCKED',
      );
      const waited = Date.now() - started;
      assert.ok(
        waited >= 140,
        `lock('k', { timeoutMs: 150 }) gave up after ${waited} ms; it must wait timeoutMs first`,
      );
      assert.equal(ran, false, "lock('k') ran fn although it failed with STORE_LOCKED");
      held.release();
      resolved(await held.done);
    },
  ],

  [
    'fails with AUTH_CANCELLED when aborted while waiting, and at once when already aborted',
    async ({ store, hold }) => {
      const held = await hold('k');
      let ran = false;
      const controller = new AbortController();
      const waiting = attempt(
        "lock('k', { signal, timeoutMs: 10000 }) while 'k' is held, aborted after 50 ms,",
        () =>
          store.lock(
            'k',
            async () => {
              ran = true;
            },
            { signal: controller.signal, timeoutMs: 10_000 },
          ),
      );
      setTimeout(() => controller.abort(new Error('host gave up')), 50);
      const started = Date.now();
      rejectedWithCode(await waiting, 'AUTH_CANCELLED');
      const waited = Date.now() - started;
      assert.ok(
        waited < 5_000,
        `lock('k') took ${waited} ms to notice its signal was aborted; it must stop waiting at once`,
      );
      assert.equal(ran, false, "lock('k') ran fn although its signal was aborted while waiting");
      held.release();
      resolved(await held.done);

      // Already aborted: rejected without running fn, even though the lock is free.
      rejectedWithCode(
        await attempt("lock('k', { signal }) with a signal already aborted, on a free key,", () =>
          store.lock(
            'k',
            async () => {
              ran = true;
            },
            { signal: AbortSignal.abort() },
          ),
        ),
        'AUTH_CANCELLED',
      );
      assert.equal(ran, false, "lock('k') ran fn although its signal was already aborted");
    },
  ],

  [
    'keeps the queue working after waiters gave up',
    async ({ store, hold }) => {
      const held = await hold('k');
      const ranBy: string[] = [];
      const controller = new AbortController();
      const timedOut = attempt("lock('k', { timeoutMs: 50 }) queued behind a holder", () =>
        store.lock('k', async () => void ranBy.push('timed-out'), { timeoutMs: 50 }),
      );
      const aborted = attempt("lock('k', { signal }) queued behind a holder, then aborted,", () =>
        store.lock('k', async () => void ranBy.push('aborted'), { signal: controller.signal }),
      );
      const patient = attempt(
        "lock('k', { timeoutMs: 10000 }) queued behind a holder and two waiters that gave up",
        () => store.lock('k', async () => void ranBy.push('patient'), { timeoutMs: 10_000 }),
      );
      rejectedWithCode(await timedOut, 'STORE_LOCKED');
      controller.abort();
      rejectedWithCode(await aborted, 'AUTH_CANCELLED');

      held.release();
      resolved(await held.done);
      resolved(await patient);
      equal(
        ranBy,
        ['patient'],
        'the fns run once the holder let go (a waiter that timed out or was aborted must not run),',
      );
      // And the lock is free again afterwards.
      resolvedTo(
        await attempt("lock('k', { timeoutMs: 1000 }) once the queue is empty", () =>
          store.lock('k', async () => 'free', { timeoutMs: 1_000 }),
        ),
        'free',
      );
    },
  ],
];
