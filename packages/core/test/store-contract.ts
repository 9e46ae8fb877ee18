import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLatchkeyError } from '../src/errors.js';
import type { CredentialStore, JsonObject } from '../src/store/types.js';

/** What a contract run needs: a fresh, empty store and a way to dispose of it. */
export interface StoreFixture {
  store: CredentialStore;
  cleanup(): Promise<void>;
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
async function holdLock(store: CredentialStore, key: string) {
  const acquired = deferred();
  const gate = deferred();
  const done = store.lock(key, async () => {
    acquired.resolve();
    await gate.promise;
    return 'held';
  });
  await acquired.promise;
  return { release: gate.resolve, done };
}

async function expectLatchkeyError(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a ${code} error`).toBeDefined();
  expect(isLatchkeyError(error), String(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as Error;
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

/**
 * Registers the shared behaviour every {@link CredentialStore} must have as a vitest suite.
 *
 * `make` is called before each test and must give an empty store; `cleanup` runs after it.
 */
export function credentialStoreContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`${name}: CredentialStore contract`, () => {
    let fixture: StoreFixture;
    let store: CredentialStore;

    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('returns undefined for a missing key, including names of Object.prototype members', async () => {
      expect(await store.get('missing')).toBeUndefined();
      expect(await store.get('constructor')).toBeUndefined();
      expect(await store.get('toString')).toBeUndefined();
      expect(await store.get('__proto__')).toBeUndefined();
      expect(await store.list()).toEqual([]);
    });

    it('round-trips a value by deep equality, without aliasing either side', async () => {
      const value: JsonObject = {
        accessToken: 'at-123',
        expiresAt: 1_700_000_000_000,
        scopes: ['read', 'write'],
        nested: { refreshable: true, none: null, text: 'ünï ✓' },
      };
      await store.set('k', value);
      // The caller changes its object after set: the store must not see it.
      (value.nested as { refreshable: boolean }).refreshable = false;
      (value.scopes as string[]).push('admin');
      value.accessToken = 'changed';

      const first = await store.get('k');
      expect(first).toEqual({
        accessToken: 'at-123',
        expiresAt: 1_700_000_000_000,
        scopes: ['read', 'write'],
        nested: { refreshable: true, none: null, text: 'ünï ✓' },
      });
      expect(first).not.toBe(value);

      // Changing what get returned must not change what is stored either.
      (first as { accessToken: string }).accessToken = 'mutated';
      (first?.scopes as string[]).length = 0;
      const second = await store.get('k');
      expect(second?.accessToken).toBe('at-123');
      expect(second?.scopes).toEqual(['read', 'write']);
      expect(second).not.toBe(first);
    });

    it('overwrites a value', async () => {
      await store.set('k', { v: 1, old: true });
      await store.set('k', { v: 2 });
      expect(await store.get('k')).toEqual({ v: 2 });
      expect(await store.list()).toEqual(['k']);
    });

    it('deletes a key, leaves the others, and ignores a missing key', async () => {
      await store.set('a', { v: 1 });
      await store.set('b', { v: 2 });
      await store.delete('a');
      expect(await store.get('a')).toBeUndefined();
      expect(await store.get('b')).toEqual({ v: 2 });
      await expect(store.delete('a')).resolves.toBeUndefined();
      await expect(store.delete('never-set')).resolves.toBeUndefined();
      expect(await store.list()).toEqual(['b']);
    });

    it('lists keys sorted, with and without a prefix', async () => {
      for (const key of ['b/2', 'a/1', 'b/1', 'c', 'a/10', 'ab']) await store.set(key, { key });
      expect(await store.list()).toEqual(['a/1', 'a/10', 'ab', 'b/1', 'b/2', 'c']);
      expect(await store.list('a/')).toEqual(['a/1', 'a/10']);
      expect(await store.list('a')).toEqual(['a/1', 'a/10', 'ab']);
      expect(await store.list('b/')).toEqual(['b/1', 'b/2']);
      expect(await store.list('zzz')).toEqual([]);
      expect(await store.list('')).toEqual(['a/1', 'a/10', 'ab', 'b/1', 'b/2', 'c']);
    });

    it('keeps keys with slashes, dots, colons, spaces, unicode and prototype names apart', async () => {
      for (const [index, key] of SPECIAL_KEYS.entries()) await store.set(key, { index, key });
      for (const [index, key] of SPECIAL_KEYS.entries()) {
        expect(await store.get(key), key).toEqual({ index, key });
      }
      expect(await store.list()).toEqual([...SPECIAL_KEYS].sort());
      expect(await store.list('a.')).toEqual(['a.b.c']);
      expect(await store.list('__')).toEqual(['__internal__', '__proto__']);
      // Nothing leaked onto Object.prototype.
      expect(({} as Record<string, unknown>).index).toBeUndefined();
      expect(({} as Record<string, unknown>).key).toBeUndefined();

      await store.delete('__proto__');
      await store.delete('__internal__');
      await store.delete('a.b.c');
      expect(await store.get('__proto__')).toBeUndefined();
      expect(await store.get('__internal__')).toBeUndefined();
      expect(await store.get('a.b.c')).toBeUndefined();
      expect(await store.get('a/b/c')).toEqual({ index: 3, key: 'a/b/c' });
      expect(await store.list()).toEqual(
        SPECIAL_KEYS.filter((k) => !['__proto__', '__internal__', 'a.b.c'].includes(k)).sort(),
      );
    });

    it('returns what fn returns', async () => {
      await expect(store.lock('k', async () => ({ answer: 42 }))).resolves.toEqual({ answer: 42 });
    });

    it('never runs two holders of the same key at once, and runs them all in order', async () => {
      let active = 0;
      let maxActive = 0;
      const order: number[] = [];
      const runs = Array.from({ length: 8 }, (_, i) =>
        store.lock('shared', async () => {
          active += 1;
          maxActive = Math.max(maxActive, active);
          await delay(10);
          order.push(i);
          active -= 1;
          return i;
        }),
      );
      expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(maxActive).toBe(1);
      expect([...order].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('does not make different keys wait for each other', async () => {
      const held = await holdLock(store, 'first');
      let ran = false;
      // Would time out if 'second' waited for 'first'.
      await store.lock(
        'second',
        async () => {
          ran = true;
        },
        { timeoutMs: 2_000 },
      );
      expect(ran).toBe(true);
      held.release();
      await expect(held.done).resolves.toBe('held');
    });

    it('releases the lock when fn throws and propagates the error as it is', async () => {
      const boom = new Error('boom');
      await expect(
        store.lock('k', async () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      // A synchronous throw from a non-async fn is handled the same way.
      const syncBoom = new RangeError('sync boom');
      await expect(
        store.lock('k', (() => {
          throw syncBoom;
        }) as unknown as () => Promise<void>),
      ).rejects.toBe(syncBoom);
      await expect(store.lock('k', async () => 'again', { timeoutMs: 1_000 })).resolves.toBe(
        'again',
      );
    });

    it('fails with STORE_LOCKED after timeoutMs without running fn', async () => {
      const held = await holdLock(store, 'k');
      let ran = false;
      const started = Date.now();
      await expectLatchkeyError(
        store.lock(
          'k',
          async () => {
            ran = true;
          },
          { timeoutMs: 150 },
        ),
        'STORE_LOCKED',
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(ran).toBe(false);
      held.release();
      await held.done;
    });

    it('fails with AUTH_CANCELLED when aborted while waiting, and at once when already aborted', async () => {
      const held = await holdLock(store, 'k');
      let ran = false;
      const controller = new AbortController();
      const waiting = store.lock(
        'k',
        async () => {
          ran = true;
        },
        { signal: controller.signal, timeoutMs: 10_000 },
      );
      setTimeout(() => controller.abort(new Error('host gave up')), 50);
      const started = Date.now();
      await expectLatchkeyError(waiting, 'AUTH_CANCELLED');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(ran).toBe(false);
      held.release();
      await held.done;

      // Already aborted: rejected without running fn, even though the lock is free.
      await expectLatchkeyError(
        store.lock(
          'k',
          async () => {
            ran = true;
          },
          { signal: AbortSignal.abort() },
        ),
        'AUTH_CANCELLED',
      );
      expect(ran).toBe(false);
    });

    it('keeps the queue working after waiters gave up', async () => {
      const held = await holdLock(store, 'k');
      const ranBy: string[] = [];
      const controller = new AbortController();
      const timedOut = store.lock('k', async () => void ranBy.push('timed-out'), {
        timeoutMs: 50,
      });
      const aborted = store.lock('k', async () => void ranBy.push('aborted'), {
        signal: controller.signal,
      });
      const patient = store.lock('k', async () => void ranBy.push('patient'), {
        timeoutMs: 10_000,
      });
      await expectLatchkeyError(timedOut, 'STORE_LOCKED');
      controller.abort();
      await expectLatchkeyError(aborted, 'AUTH_CANCELLED');

      held.release();
      await held.done;
      await patient;
      expect(ranBy).toEqual(['patient']);
      // And the lock is free again afterwards.
      await expect(store.lock('k', async () => 'free', { timeoutMs: 1_000 })).resolves.toBe('free');
    });
  });
}
