import { describe, expect, it } from 'vitest';
import {
  type AuthProvider,
  authenticate,
  defineProvider,
  isLatchkeyError,
  type McpStrategy,
  mcpAuthProvider,
  memoryStore,
} from '../src/index.js';

function configError(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    expect(isLatchkeyError(error, 'PROVIDER_CONFIG'), String(error)).toBe(true);
    return error as Error;
  }
  throw new Error('the definition was accepted');
}

describe('defineProvider dispatches on the strategy kind', () => {
  it('builds an mcp provider, the same one mcpAuthProvider() builds', () => {
    const url = 'https://mcp.example.com/mcp';
    const defined = defineProvider({
      id: 'remote',
      name: 'Remote',
      strategy: { kind: 'mcp', serverUrl: url, scopes: ['files:read'], redirect: { port: 8123 } },
    });
    const made = mcpAuthProvider(url, {
      id: 'remote',
      name: 'Remote',
      scopes: ['files:read'],
      redirect: { port: 8123 },
    });
    expect(defined).toEqual(made);
    expect(Object.isFrozen(defined.strategy)).toBe(true);
    expect((defined.strategy as McpStrategy).redirect).toEqual({ port: 8123, path: '/callback' });
    expect(made.id).toBe('remote');
  });

  it('keeps the default id of mcpAuthProvider() as earlier releases derived it (it keys the store)', () => {
    const a = mcpAuthProvider('https://mcp.example.com/mcp');
    // sha256 of the canonical URL, as earlier releases computed it.
    expect(a.id).toBe('mcp-mcp.example.com-7a930d27a3');
    expect(mcpAuthProvider('https://mcp.example.com/mcp/').id).not.toBe(a.id);
    expect(a.name).toBe('mcp.example.com');
  });

  it('checks ids and redirects of every kind with the same rules', () => {
    const badId = 'not ok';
    for (const strategy of [
      { kind: 'oauth', issuer: 'https://auth.example.com', clientId: 'c' },
      { kind: 'mcp', serverUrl: 'https://mcp.example.com/mcp' },
    ] as const) {
      expect(configError(() => defineProvider({ id: badId, strategy })).message).toContain('"id"');
      const redirect = configError(() =>
        defineProvider({ id: 'x', strategy: { ...strategy, redirect: { port: 70000 } } }),
      );
      expect(redirect.message).toContain('"strategy.redirect.port"');
      const path = configError(() =>
        defineProvider({ id: 'x', strategy: { ...strategy, redirect: { path: 'callback?x=1' } } }),
      );
      expect(path.message).toContain('"strategy.redirect.path"');
    }
    expect(
      configError(() => mcpAuthProvider('https://mcp.example.com/', { id: badId })).message,
    ).toContain('"id"');
  });

  it('names every supported kind for an unknown one, and refuses identify where no kind uses it', () => {
    const unknown = configError(() =>
      defineProvider({ id: 'x', strategy: { kind: 'magic' } as never }),
    );
    expect(unknown.message).toContain('"oauth", "mcp", "browser"');
    const identify = () => ({ account: 'a' });
    expect(
      configError(() =>
        defineProvider({
          id: 'x',
          identify,
          strategy: { kind: 'mcp', serverUrl: 'https://mcp.example.com/mcp' },
        }),
      ).message,
    ).toContain('"identify"');
  });

  it('reports an unparsable mcp server URL as a strategy field, not as a TypeError', () => {
    expect(configError(() => mcpAuthProvider('not a url')).message).toContain(
      '"strategy.serverUrl"',
    );
  });

  it('runs a provider of an unknown kind nowhere: authenticate() throws TypeError', async () => {
    const forged = Object.freeze({
      id: 'forged',
      name: 'Forged',
      strategy: Object.freeze({ kind: 'magic', scopes: [] }),
    }) as unknown as AuthProvider;
    await expect(authenticate(forged, { store: memoryStore() })).rejects.toThrow(TypeError);
  });
});
