import { describe, expect, it } from 'vitest';
import {
  credentialKey,
  credentialsFromRecord,
  credentialsToRecord,
  mcpAccountName,
} from '../src/credentials.js';
import { authenticate, isLatchkeyError, mcpAuthProvider, memoryStore } from '../src/index.js';
import type { JsonObject, JsonValue } from '../src/store/types.js';

const ISSUER = 'https://auth.example.com/tenant1';
const NAME = 'auth.example.com/tenant1';
const SERVER = 'https://mcp.example.com/mcp';

/** A login of the `mcp` strategy as the release before typed engine state stored it. */
function earlierMcpRecord(providerId: string, overrides: Partial<JsonObject> = {}): JsonObject {
  return {
    v: 1,
    providerId,
    account: ISSUER,
    tokenType: 'bearer',
    accessToken: 'access-v1',
    refreshToken: 'refresh-v1',
    scopes: ['mcp:read'],
    secrets: {},
    metadata: {
      resource: SERVER,
      clientId: 'client-1',
      tokenEndpointAuthMethod: 'client_secret_basic',
      clientIdentification: 'dynamic',
      issuer: ISSUER,
    },
    obtainedAt: 1_700_000_000_000,
    ...overrides,
  };
}

describe('linked tokens in stored records', () => {
  it('keep their refresh token and expiry through a round trip, the token among the secrets', () => {
    const record = earlierMcpRecord('slack', {
      metadata: {},
      secrets: { userToken: 'user-access' },
      linkedTokens: { userToken: { refreshToken: 'user-refresh', expiresAt: 1_700_000_500_000 } },
    });
    const c = credentialsFromRecord('k', record);
    expect(c.secrets.userToken?.reveal()).toBe('user-access');
    expect(c.linkedTokens?.userToken?.refreshToken?.reveal()).toBe('user-refresh');
    expect(c.linkedTokens?.userToken?.expiresAt).toBe(1_700_000_500_000);
    expect(Object.isFrozen(c.linkedTokens?.userToken)).toBe(true);
    expect(credentialsToRecord(c).linkedTokens).toEqual(record.linkedTokens);
    // Secret-valued: printed, they are redacted.
    expect(JSON.stringify(c)).not.toContain('user-refresh');
  });

  it('refuses a malformed entry with STORE_CORRUPT naming it, without secrets', () => {
    for (const linkedTokens of [
      [],
      'x',
      { userToken: null },
      { userToken: { refreshToken: 5 } },
      { userToken: { refreshToken: 'leak-me', expiresAt: 'soon' } },
    ] as JsonValue[]) {
      const error = (() => {
        try {
          credentialsFromRecord(
            'credentials/slack/T1',
            earlierMcpRecord('slack', { linkedTokens }),
          );
        } catch (e) {
          return e;
        }
      })();
      expect(isLatchkeyError(error, 'STORE_CORRUPT'), JSON.stringify(linkedTokens)).toBe(true);
      expect((error as Error).message).toContain('linkedTokens');
      expect((error as Error).message).not.toContain('leak-me');
    }
  });
});

describe('engine state in stored records', () => {
  it('reads the engine state an earlier release kept in metadata as typed state', () => {
    const c = credentialsFromRecord('k', earlierMcpRecord('remote'));
    expect(c.engine).toEqual({
      kind: 'mcp',
      issuer: ISSUER,
      resource: SERVER,
      clientId: 'client-1',
      tokenEndpointAuthMethod: 'client_secret_basic',
      clientIdentification: 'dynamic',
    });
    expect(c.metadata).toEqual({ issuer: ISSUER });
    expect(c.refreshToken?.reveal()).toBe('refresh-v1');
    expect(Object.isFrozen(c.engine)).toBe(true);
  });

  it('writes records that the earlier release still reads: version 1, with its metadata strings', () => {
    const c = credentialsFromRecord('k', earlierMcpRecord('remote'));
    const record = credentialsToRecord(c);
    expect(record.v).toBe(1);
    expect(record.engine).toEqual(c.engine);
    expect(record.metadata).toEqual(earlierMcpRecord('remote').metadata);
    // Read back, the same credentials.
    expect(credentialsFromRecord('k', record)).toEqual(c);
  });

  it('keeps the endpoints of an MCP login with it, frozen', () => {
    const engine = {
      kind: 'mcp',
      issuer: ISSUER,
      resource: SERVER,
      clientId: 'c',
      tokenEndpointAuthMethod: 'none',
      endpoints: {
        authorization: 'https://auth.example.com/authorize',
        token: 'https://auth.example.com/token',
      },
    };
    const c = credentialsFromRecord('k', { ...earlierMcpRecord('remote'), engine });
    expect(c.engine).toEqual(engine);
    expect(Object.isFrozen(c.engine?.kind === 'mcp' ? c.engine.endpoints : undefined)).toBe(true);
    expect(credentialsToRecord(c).engine).toEqual(engine);
  });

  it('reads a browser profile first, even beside keys that look like MCP state', () => {
    const c = credentialsFromRecord('k', {
      ...earlierMcpRecord('chat'),
      account: 'T1',
      metadata: {
        userAgent: 'UA',
        browserProfile: 'T1',
        issuer: ISSUER,
        resource: SERVER,
        clientId: 'c',
        tokenEndpointAuthMethod: 'none',
      },
    });
    expect(c.engine).toEqual({ kind: 'browser', profile: 'T1' });
    expect(c.metadata).toMatchObject({ userAgent: 'UA', issuer: ISSUER, clientId: 'c' });
    expect(c.metadata).not.toHaveProperty('browserProfile');
  });

  it('keeps an oauth login as it was: its metadata holds no engine state', () => {
    const record = {
      ...earlierMcpRecord('google'),
      account: 'ada@example.com',
      metadata: { issuer: 'https://accounts.google.com', clientId: 'c', email: 'ada@example.com' },
    };
    const c = credentialsFromRecord('k', record);
    expect(c.engine).toBeUndefined();
    expect(c.metadata).toEqual(record.metadata);
    expect(credentialsToRecord(c)).toEqual({ ...record });
  });

  it('refuses malformed engine state with STORE_CORRUPT naming the field, without secrets', () => {
    const record = credentialsToRecord(credentialsFromRecord('k', earlierMcpRecord('remote')));
    const engines: JsonValue[] = [
      'mcp',
      { kind: 'mcp', issuer: ISSUER },
      {
        kind: 'mcp',
        issuer: ISSUER,
        resource: SERVER,
        clientId: 'c',
        tokenEndpointAuthMethod: 'magic',
      },
      {
        kind: 'mcp',
        issuer: ISSUER,
        resource: SERVER,
        clientId: 'c',
        tokenEndpointAuthMethod: 'none',
        endpoints: { authorization: 'https://auth.example.com/authorize' },
      },
      {
        kind: 'mcp',
        issuer: ISSUER,
        resource: SERVER,
        clientId: 'c',
        tokenEndpointAuthMethod: 'none',
        movedTo: 42,
      },
      { kind: 'browser' },
      { kind: 'other' },
    ];
    for (const engine of engines) {
      let error: unknown;
      try {
        credentialsFromRecord('credentials/remote/x', { ...record, engine });
      } catch (e) {
        error = e;
      }
      expect(isLatchkeyError(error, 'STORE_CORRUPT'), JSON.stringify(engine)).toBe(true);
      expect((error as Error).message).toContain('"engine"');
      expect((error as Error).message).not.toContain('access-v1');
    }
  });

  it('names MCP logins by the host and path of their issuer', () => {
    expect(mcpAccountName('https://auth.example.com/')).toBe('auth.example.com');
    expect(mcpAccountName('https://auth.example.com')).toBe('auth.example.com');
    expect(mcpAccountName('http://127.0.0.1:4000/t1/')).toBe('127.0.0.1:4000/t1');
    expect(mcpAccountName('not a url')).toBeUndefined();
  });
});

describe('MCP logins an earlier release named by their issuer URL', () => {
  const provider = mcpAuthProvider(SERVER);
  const oldKey = credentialKey(provider.id, ISSUER);
  const newKey = credentialKey(provider.id, NAME);

  async function storeWithEarlierLogin() {
    const store = memoryStore();
    await store.set(oldKey, earlierMcpRecord(provider.id));
    return store;
  }

  it('are reused without an account and kept under the key of their new name', async () => {
    const store = await storeWithEarlierLogin();
    const session = await authenticate(provider, { store, interactive: false });
    expect(session.account).toBe(NAME);
    expect(session.current().accessToken.reveal()).toBe('access-v1');
    expect(await store.list()).toEqual([newKey]);
    expect((await store.get(newKey))?.refreshToken).toBe('refresh-v1');
    expect((await authenticate(provider, { store, interactive: false })).account).toBe(NAME);
  });

  it('are found by their old name or their new one, and logging out leaves nothing behind', async () => {
    for (const account of [ISSUER, NAME]) {
      const store = await storeWithEarlierLogin();
      const session = await authenticate(provider, { store, account, interactive: false });
      expect(session.account).toBe(NAME);
      expect(await store.list()).toEqual([newKey]);
      await session.logout();
      expect(await store.list()).toEqual([]);
    }
  });

  it('move once when two callers find them at the same time', async () => {
    const store = await storeWithEarlierLogin();
    const sessions = await Promise.all([
      authenticate(provider, { store, interactive: false }),
      authenticate(provider, { store, interactive: false }),
      authenticate(provider, { store, account: ISSUER, interactive: false }),
    ]);
    expect(sessions.map((s) => s.account)).toEqual([NAME, NAME, NAME]);
    expect(await store.list()).toEqual([newKey]);
  });

  it('never replace a newer login already stored under the new name', async () => {
    const store = await storeWithEarlierLogin();
    const newer = credentialsFromRecord(
      newKey,
      earlierMcpRecord(provider.id, { accessToken: 'access-newer', obtainedAt: 1_800_000_000_000 }),
    );
    await store.set(newKey, credentialsToRecord({ ...newer, account: NAME }));
    const session = await authenticate(provider, { store, interactive: false });
    expect(session.current().accessToken.reveal()).toBe('access-newer');
    expect(await store.list()).toEqual([newKey]);
  });
});

describe('MCP logins whose server moved to another authorization server', () => {
  const provider = mcpAuthProvider(SERVER);
  const movedKey = credentialKey(provider.id, NAME);
  const moved = (): JsonObject => {
    const login = credentialsFromRecord(movedKey, earlierMcpRecord(provider.id, { account: NAME }));
    if (login.engine?.kind !== 'mcp') throw new Error('not an MCP login');
    return credentialsToRecord({
      ...login,
      engine: { ...login.engine, movedTo: 'https://new-auth.example.com' },
    });
  };

  it('are not reused without an account, so the next sign-in goes to the new server', async () => {
    const store = memoryStore();
    await store.set(movedKey, moved());
    const error = await authenticate(provider, { store, interactive: false }).catch(
      (e: unknown) => e,
    );
    expect(isLatchkeyError(error, 'LOGIN_REQUIRED')).toBe(true);
    expect(await store.list()).toEqual([movedKey]);
  });

  it('do not make the current login ambiguous', async () => {
    const store = memoryStore();
    await store.set(movedKey, moved());
    const currentKey = credentialKey(provider.id, 'new-auth.example.com');
    const current = earlierMcpRecord(provider.id, {
      account: 'new-auth.example.com',
      accessToken: 'access-new',
    });
    await store.set(currentKey, {
      ...current,
      metadata: { ...(current.metadata as JsonObject), issuer: 'https://new-auth.example.com' },
    });
    const session = await authenticate(provider, { store, interactive: false });
    expect(session.account).toBe('new-auth.example.com');
    expect(session.current().accessToken.reveal()).toBe('access-new');
  });

  it('are found by their account, with the mark kept', async () => {
    const store = memoryStore();
    await store.set(movedKey, moved());
    const session = await authenticate(provider, { store, account: NAME, interactive: false });
    expect(session.current().engine).toMatchObject({ movedTo: 'https://new-auth.example.com' });
  });
});
