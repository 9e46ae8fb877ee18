import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../src/store/memory-store.js';
import type { CredentialStore, JsonObject } from '../src/store/types.js';
import { storeContractCases } from '../src/testing.js';

/** Runs every case against stores from `broken`, one at a time, and says how each ended. */
async function runAgainst(broken: () => CredentialStore) {
  let made = 0;
  let cleaned = 0;
  const failures = new Map<string, unknown>();
  const cases = storeContractCases(async () => {
    made += 1;
    return {
      store: broken(),
      cleanup: async () => {
        cleaned += 1;
      },
    };
  });
  for (const c of cases) {
    await c.run().catch((error: unknown) => failures.set(c.name, error));
  }
  return { cases, made, cleaned, failures };
}

describe('the store contract suite', () => {
  it('fails a store whose list() forgets a key, in the cases that list keys', async () => {
    const { cases, made, cleaned, failures } = await runAgainst(() => {
      const inner = memoryStore();
      return { ...inner, list: async (prefix) => (await inner.list(prefix)).slice(0, -1) };
    });

    expect([...failures.keys()]).toEqual([
      'overwrites a value',
      'deletes a key, leaves the others, and ignores a missing key',
      'lists keys sorted, with and without a prefix',
      'keeps keys with slashes, dots, colons, spaces, unicode and prototype names apart',
    ]);
    for (const error of failures.values()) {
      expect(error).toBeInstanceOf(AssertionError);
      expect((error as Error).message).toMatch(/^list\(.*\) after .* gave \[.*\]; it must give \[/);
    }
    // One fresh fixture per case, and every one cleaned up, the failing ones too.
    expect(made).toBe(cases.length);
    expect(cleaned).toBe(cases.length);
  });

  it('fails a store whose lock() lets two holders of a key in, in the cases about exclusion', async () => {
    const { cases, cleaned, failures } = await runAgainst(() => {
      const inner = memoryStore();
      let calls = 0;
      // Takes one of two locks per key in turn, so a second caller never waits for the first.
      return {
        ...inner,
        lock: (key, fn, options) => inner.lock(`${key}#${calls++ % 2}`, fn, options),
      };
    });

    expect([...failures.keys()]).toEqual([
      'never runs two holders of the same key at once, and runs them all in order',
      'fails with STORE_LOCKED after timeoutMs without running fn',
      'fails with AUTH_CANCELLED when aborted while waiting, and at once when already aborted',
      'keeps the queue working after waiters gave up',
    ]);
    for (const error of failures.values()) expect(error).toBeInstanceOf(AssertionError);
    const message = (name: string) => (failures.get(name) as Error).message;
    expect(
      message('never runs two holders of the same key at once, and runs them all in order'),
    ).toContain("lock('shared') let 2 holders run fn at once; it must let one in at a time");
    expect(message('fails with STORE_LOCKED after timeoutMs without running fn')).toContain(
      "lock('k', { timeoutMs: 150 }) while 'k' is held resolved with undefined; it must reject with a LatchkeyError of code STORE_LOCKED",
    );
    expect(cleaned).toBe(cases.length);
  });

  it('fails a store that hands out the objects it keeps instead of copies', async () => {
    const { failures } = await runAgainst(() => {
      const inner = memoryStore();
      const kept = new Map<string, JsonObject>();
      return {
        ...inner,
        get: async (key) => kept.get(key),
        set: async (key, value) => {
          kept.set(key, value);
          await inner.set(key, value);
        },
        delete: async (key) => {
          kept.delete(key);
          await inner.delete(key);
        },
      };
    });

    expect([...failures.keys()]).toEqual([
      'round-trips a value by deep equality, without aliasing either side',
    ]);
    expect((failures.values().next().value as Error).message).toMatch(
      /^get\('k'\) after the caller changed the object it had given to set\('k'\) gave /,
    );
  });

  it('rejects a make that is not a function with TypeError', () => {
    expect(() => storeContractCases(undefined as never)).toThrow(TypeError);
  });
});
