import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileStore } from '../src/store/file-store.js';
import { memoryStore } from '../src/store/memory-store.js';
import { userStore } from '../src/store/user-store.js';
import { credentialStoreContract } from './store-contract.js';

// A user's view must be a whole store by itself, with other users' keys beside it.
credentialStoreContract('userStore over memoryStore, beside another user', async () => {
  const shared = memoryStore();
  await userStore(shared, 'user/1x').set('credentials/p/a', { other: true });
  await shared.set('credentials/p/a', { desktop: true });
  return { store: userStore(shared, 'user/1'), cleanup: async () => {} };
});

credentialStoreContract('userStore over fileStore', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'latchkey-user-store-'));
  return {
    store: userStore(fileStore({ directory }), 'ü ser'),
    cleanup: () => rm(directory, { recursive: true, force: true }),
  };
});

describe('userStore', () => {
  it('keeps users apart whatever their ids look like, and each lock is the user key', async () => {
    const shared = memoryStore();
    const ids = ['a', 'a/b', 'a%2Fb', 'b', '..', 'users/a', 'A'];
    for (const id of ids) await userStore(shared, id).set('k', { id });
    for (const id of ids) {
      expect(await userStore(shared, id).list()).toEqual(['k']);
      expect(await userStore(shared, id).get('k')).toEqual({ id });
    }
    expect(await shared.list()).toHaveLength(ids.length);
    // Holding one user's lock does not hold another's with the same key.
    await userStore(shared, 'a').lock('k', () =>
      userStore(shared, 'b').lock('k', async () => 'inner', { timeoutMs: 100 }),
    );
    await expect(
      userStore(shared, 'a').lock('k', () =>
        userStore(shared, 'a').lock('k', async () => 'inner', { timeoutMs: 50 }),
      ),
    ).rejects.toMatchObject({ code: 'STORE_LOCKED' });
  });

  it('rejects a missing store and user ids that are empty, too long or not strings', () => {
    expect(() => userStore(undefined as never, 'a')).toThrow(TypeError);
    for (const id of ['', 'x'.repeat(513), 7 as never]) {
      expect(() => userStore(memoryStore(), id)).toThrow(TypeError);
    }
  });
});
