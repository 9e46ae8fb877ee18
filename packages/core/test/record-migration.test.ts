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
const SERVER = 'https://mcp.example.com/mcp';

/** A login of the `mcp` strategy as the release before typed engine state stored it. */
function v1McpRecord(providerId: string): JsonObject {
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
  };
}

describe('stored records of the earlier release', () => {
  it('moves an MCP login engine state from metadata into typed fields, and names it for people', () => {
    const c = credentialsFromRecord('k', v1McpRecord('remote'));
    expect(c.account).toBe('auth.example.com/tenant1');
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
    // Written back in the current version, read back the same.
    const again = credentialsFromRecord('k', credentialsToRecord(c));
    expect(again).toEqual(c);
    expect(credentialsToRecord(c).v).toBe(2);
  });

  it('moves a browser login profile into typed fields', () => {
    const c = credentialsFromRecord('k', {
      ...v1McpRecord('chat'),
      account: 'T1',
      metadata: { userAgent: 'UA', browserProfile: 'T1' },
    });
    expect(c.account).toBe('T1');
    expect(c.engine).toEqual({ kind: 'browser', profile: 'T1' });
    expect(c.metadata).toEqual({ userAgent: 'UA' });
  });

  it('keeps an oauth login as it was: its metadata holds no engine state', () => {
    const record = {
      ...v1McpRecord('google'),
      account: 'ada@example.com',
      metadata: { issuer: 'https://accounts.google.com', clientId: 'c', email: 'ada@example.com' },
    };
    const c = credentialsFromRecord('k', record);
    expect(c.account).toBe('ada@example.com');
    expect(c.engine).toBeUndefined();
    expect(c.metadata).toEqual(record.metadata);
  });

  it('refuses a malformed engine state with STORE_CORRUPT naming the field', () => {
    const record = credentialsToRecord(credentialsFromRecord('k', v1McpRecord('remote')));
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
  });

  it('reuses such a login through authenticate() and keeps it under the key of its new name', async () => {
    const provider = mcpAuthProvider(SERVER);
    const store = memoryStore();
    const oldKey = credentialKey(provider.id, ISSUER);
    await store.set(oldKey, v1McpRecord(provider.id));
    const session = await authenticate(provider, { store, interactive: false });
    expect(session.account).toBe('auth.example.com/tenant1');
    expect(session.current().accessToken.reveal()).toBe('access-v1');
    expect(await store.list()).toEqual([credentialKey(provider.id, session.account)]);
    const moved = await store.get(credentialKey(provider.id, session.account));
    expect(moved?.v).toBe(2);
    expect(moved?.refreshToken).toBe('refresh-v1');
    // And the next authenticate() finds it directly.
    const again = await authenticate(provider, { store, interactive: false });
    expect(again.account).toBe(session.account);
  });
});
