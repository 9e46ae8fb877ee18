// Listing and forgetting stored logins without a session: accounts() and forget(),
// including a record that cannot be read, which no session could ever log out.
import { describe, expect, it } from 'vitest';
import { credentialKey, credentialsToRecord } from '../src/credentials.js';
import {
  accounts,
  authenticate,
  defineProvider,
  forget,
  isLatchkeyError,
  memoryStore,
  Secret,
} from '../src/index.js';

const provider = defineProvider({
  id: 'listed',
  name: 'Listed',
  strategy: {
    kind: 'oauth',
    issuer: 'https://auth.example.com',
    discovery: false,
    endpoints: {
      authorization: 'https://auth.example.com/authorize',
      token: 'https://auth.example.com/token',
    },
    clientId: 'client',
    scopes: ['read'],
  },
});

function login(account: string, token: string) {
  return credentialsToRecord({
    providerId: provider.id,
    account,
    tokenType: 'bearer',
    accessToken: new Secret(token),
    refreshToken: new Secret(`${token}-refresh`),
    expiresAt: Date.now() + 3_600_000,
    scopes: ['read'],
    secrets: {},
    metadata: {},
    obtainedAt: Date.now(),
  });
}

async function storeWithLogins() {
  const store = memoryStore();
  await store.set(
    credentialKey(provider.id, 'ada@example.com'),
    login('ada@example.com', 'tok-ada-123456'),
  );
  await store.set(
    credentialKey(provider.id, 'bob@example.com'),
    login('bob@example.com', 'tok-bob-123456'),
  );
  // A record a bug or a hand edit broke: no access token.
  const { accessToken: _gone, ...broken } = login('eve@example.com', 'tok-eve-123456');
  await store.set(credentialKey(provider.id, 'eve@example.com'), broken);
  return store;
}

describe('stored logins without a session', () => {
  it('accounts() lists every login with no secret values, and an unreadable one as such', async () => {
    const store = await storeWithLogins();
    const listed = await accounts(provider, { store });
    expect(listed.map((a) => a.account).sort()).toEqual([
      'ada@example.com',
      'bob@example.com',
      'eve@example.com',
    ]);
    expect(listed.find((a) => a.account === 'ada@example.com')).toMatchObject({
      scopes: ['read'],
      refreshable: true,
    });
    expect(listed.find((a) => a.account === 'eve@example.com')).toEqual({
      account: 'eve@example.com',
      unreadable: true,
    });
    expect(JSON.stringify(listed)).not.toMatch(/tok-/);
  });

  it('STORE_CORRUPT names forget(), and forget() removes the unreadable login', async () => {
    const store = await storeWithLogins();
    const error = await authenticate(provider, {
      store,
      account: 'eve@example.com',
      interactive: false,
    }).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'STORE_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain('forget(provider, "eve@example.com", { store })');
    expect(await forget(provider, 'eve@example.com', { store })).toBe(true);
    expect((await accounts(provider, { store })).map((a) => a.account).sort()).toEqual([
      'ada@example.com',
      'bob@example.com',
    ]);
    // The others are untouched and still reused.
    const session = await authenticate(provider, {
      store,
      account: 'ada@example.com',
      interactive: false,
    });
    expect(session.current().accessToken.reveal()).toBe('tok-ada-123456');
  });

  it('forget() says whether it removed anything, and refuses an empty account', async () => {
    const store = await storeWithLogins();
    expect(await forget(provider, 'nobody@example.com', { store })).toBe(false);
    expect(await forget(provider, 'bob@example.com', { store })).toBe(true);
    expect(await forget(provider, 'bob@example.com', { store })).toBe(false);
    await expect(forget(provider, '', { store })).rejects.toThrow(TypeError);
  });
});
