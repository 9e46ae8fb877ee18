import { describe, expect, it } from 'vitest';
import { memoryStore } from '../src/store/memory-store.js';
import { credentialStoreContract } from './store-contract.js';

credentialStoreContract('memoryStore', async () => ({
  store: memoryStore(),
  cleanup: async () => {},
}));

describe('memoryStore', () => {
  it('keeps separate stores apart', async () => {
    const a = memoryStore();
    const b = memoryStore();
    await a.set('k', { v: 1 });
    expect(await b.get('k')).toBeUndefined();
    // Locks are per store too: holding 'k' in a does not block 'k' in b.
    await a.lock('k', () => b.lock('k', async () => 'inner', { timeoutMs: 100 }));
  });

  it('rejects values that are not JSON objects and keys that are not strings', async () => {
    const store = memoryStore();
    await expect(store.set('k', null as never)).rejects.toThrow(TypeError);
    await expect(store.set('k', [] as never)).rejects.toThrow(TypeError);
    await expect(store.get(1 as never)).rejects.toThrow(TypeError);
    await expect(store.lock('k', async () => 1, { timeoutMs: -1 })).rejects.toThrow(TypeError);
    await expect(
      store.lock('k', async () => 1, { timeoutMs: Number.POSITIVE_INFINITY }),
    ).rejects.toThrow(TypeError);
    expect(await store.list()).toEqual([]);
  });
});
