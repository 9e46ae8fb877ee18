// A refresh whose write to the store fails (the database went away between the token
// request and the write): the rotated refresh token exists only in this process. The
// session keeps it and saves it on its next call, so the login is neither lost nor
// refreshed again with the spent token.
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticate,
  type CredentialStore,
  isLatchkeyError,
  LatchkeyError,
  type LatchkeyEvent,
  memoryStore,
} from '../src/index.js';
import { options, testProvider, unattendedUser } from './helpers.js';

let server: TestAuthServer;

beforeAll(async () => {
  server = await startAuthServer({ accessTokenTtl: 600 });
});
afterAll(async () => {
  await server?.close();
});

/** A memory store whose writes fail while `down` is set, as a store whose database is gone. */
function flakyStore(): CredentialStore & { down: boolean; inner: CredentialStore } {
  const inner = memoryStore();
  const store = {
    down: false,
    inner,
    get: (key: string) => inner.get(key),
    set: async (key: string, value: Parameters<CredentialStore['set']>[1]) => {
      if (store.down) {
        throw new LatchkeyError('STORE_UNAVAILABLE', 'The credential store cannot be reached.');
      }
      await inner.set(key, value);
    },
    delete: (key: string) => inner.delete(key),
    list: (prefix?: string) => inner.list(prefix),
    lock: <T>(
      key: string,
      fn: () => Promise<T>,
      lockOptions?: Parameters<CredentialStore['lock']>[2],
    ) => inner.lock(key, fn, lockOptions),
  };
  return store;
}

async function signedIn(store: CredentialStore, events: LatchkeyEvent[]) {
  const provider = testProvider(server);
  await authenticate(provider, options({ store, openUrl: unattendedUser().openUrl }));
  return authenticate(
    provider,
    options({ store, interactive: false, onEvent: (e) => events.push(e) }),
  );
}

const storedAccessToken = async (store: CredentialStore) => {
  const [key] = await store.list('credentials/test-as/');
  return (await store.get(key as string))?.accessToken;
};

describe('a refresh whose write to the store fails', () => {
  it('keeps the rotated tokens and saves them on the next call: no second refresh, no invalid_grant, nothing dropped', async () => {
    const store = flakyStore();
    const events: LatchkeyEvent[] = [];
    const session = await signedIn(store, events);
    const before = session.current().accessToken.reveal();
    server.resetCounts();

    store.down = true;
    const error = await session.refresh().catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'STORE_UNAVAILABLE'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/keeps it and saves it on the session's next call/);
    const refreshed = session.current();
    expect(refreshed.accessToken.reveal()).not.toBe(before);
    for (const secret of [refreshed.accessToken.reveal(), refreshed.refreshToken?.reveal()]) {
      expect(String((error as Error).message)).not.toContain(secret as string);
    }
    expect(server.counts().token.refresh_token).toBe(1);

    // Still down: the next call tries the write again; the tokens it keeps still serve...
    expect((await session.fresh()).accessToken.reveal()).toBe(refreshed.accessToken.reveal());
    expect(await storedAccessToken(store)).not.toBe(refreshed.accessToken.reveal());
    // ...but not a call that needs them renewed: that one fails as the write does.
    const again = await session.fresh({ minValidityMs: 3_600_000 }).catch((e: unknown) => e);
    expect(isLatchkeyError(again, 'STORE_UNAVAILABLE'), String(again)).toBe(true);
    expect(session.current().accessToken.reveal()).toBe(refreshed.accessToken.reveal());
    expect(server.counts().token.refresh_token).toBe(1);

    store.down = false;
    const fresh = await session.fresh();
    expect(fresh.accessToken.reveal()).toBe(refreshed.accessToken.reveal());
    expect(await storedAccessToken(store)).toBe(refreshed.accessToken.reveal());
    expect(server.counts().token.refresh_token).toBe(1);

    // The saved refresh token is the live one: the next refresh works.
    const next = await session.refresh();
    expect(next.accessToken.reveal()).not.toBe(refreshed.accessToken.reveal());
    expect(server.counts().token.refresh_token).toBe(2);
    expect(events.map((e) => e.type)).not.toContain('credentials_dropped');
    expect(await store.list('credentials/test-as/')).toHaveLength(1);
  });

  it('takes what the store holds when it moved on meanwhile (another sign-in stored a new login)', async () => {
    const store = flakyStore();
    const events: LatchkeyEvent[] = [];
    const session = await signedIn(store, events);
    store.down = true;
    await session.refresh().catch(() => {});
    store.down = false;
    // Another process signed the account in again: another grant in the store.
    const [key] = await store.list('credentials/test-as/');
    const record = (await store.get(key as string)) as Record<string, unknown>;
    await store.set(key as string, {
      ...record,
      accessToken: 'signed-in-elsewhere',
      refreshToken: 'refresh-of-the-other-sign-in',
    });
    const stored = await storedAccessToken(store);
    const fresh = await session.fresh();
    expect(fresh.accessToken.reveal()).toBe(stored);
    expect(events.map((e) => e.type)).toContain('credentials_adopted');
  });
});
