// Two processes that refresh one login without excluding each other (a store whose lock
// does not reach across them, a stale lock taken over twice): the second spends a refresh
// token the first already rotated and gets invalid_grant. The login is not lost: the
// session reads the store again and adopts the newer tokens.
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticate,
  type CredentialStore,
  isLatchkeyError,
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

/** A store whose lock excludes nothing, as two holders of one taken-over lock. */
function unlockedStore(): CredentialStore {
  const base = memoryStore();
  return {
    get: (key) => base.get(key),
    set: (key, value) => base.set(key, value),
    delete: (key) => base.delete(key),
    list: (prefix) => base.list(prefix),
    lock: (_key, fn) => fn(),
  };
}

describe('a refresh that loses the race for a rotating refresh token', () => {
  it('adopts the tokens the other process stored instead of dropping the login', async () => {
    const store = unlockedStore();
    const provider = testProvider(server);
    await authenticate(provider, options({ store, openUrl: unattendedUser().openUrl }));
    const other = await authenticate(provider, options({ store, interactive: false }));
    const events: LatchkeyEvent[] = [];
    let raced = false;
    // This process's refresh request leaves only after the other process's refresh landed.
    const late: typeof fetch = async (input, init) => {
      if (!raced && String(init?.body ?? '').includes('grant_type=refresh_token')) {
        raced = true;
        await other.refresh();
      }
      return fetch(input, init);
    };
    const session = await authenticate(
      provider,
      options({ store, interactive: false, fetch: late, onEvent: (e) => events.push(e) }),
    );
    const before = session.current();
    server.resetCounts();

    const after = await session.refresh();
    expect(raced).toBe(true);
    // Two refresh requests reached the server, one with a spent token...
    expect(server.counts().token.refresh_token).toBe(2);
    // ...and this session took the other one's result, which is in the store.
    expect(after.accessToken.reveal()).toBe(other.current().accessToken.reveal());
    expect(after.accessToken.reveal()).not.toBe(before.accessToken.reveal());
    expect(events.map((e) => e.type)).toContain('credentials_adopted');
    expect(events.map((e) => e.type)).not.toContain('credentials_dropped');
    expect(await store.list('credentials/test-as/')).toHaveLength(1);
  });

  it('still removes a login whose refresh token is dead and that nobody renewed', async () => {
    const store = unlockedStore();
    const provider = testProvider(server);
    const session = await authenticate(
      provider,
      options({ store, openUrl: unattendedUser().openUrl }),
    );
    // The grant ended at the server, and no process stored anything newer.
    await server.revokeGrantsFor('alice');
    const error = await session.refresh().catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'REAUTH_REQUIRED'), String(error)).toBe(true);
    expect(await store.list('credentials/test-as/')).toEqual([]);
  });
});
