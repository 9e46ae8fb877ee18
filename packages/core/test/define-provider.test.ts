import { describe, expect, it } from 'vitest';
import {
  defineProvider,
  isLatchkeyError,
  type LatchkeyError,
  type OAuthStrategy,
  type ProviderDefinition,
} from '../src/index.js';

const base: ProviderDefinition = {
  id: 'example',
  name: 'Example',
  strategy: {
    kind: 'oauth',
    issuer: 'https://auth.example.com',
    clientId: 'client-1',
    scopes: ['read', 'write'],
  },
};

function configError(def: unknown): LatchkeyError {
  try {
    defineProvider(def as ProviderDefinition);
  } catch (error) {
    expect(isLatchkeyError(error, 'PROVIDER_CONFIG')).toBe(true);
    return error as LatchkeyError;
  }
  throw new Error('defineProvider accepted a bad definition');
}

function withStrategy(patch: Record<string, unknown>): unknown {
  return { ...base, strategy: { ...base.strategy, ...patch } };
}

/** An `mcp` strategy definition with `extra` on top. */
function mcpStrategy(extra: Record<string, unknown>): ProviderDefinition {
  return {
    id: 'remote',
    name: 'Remote',
    strategy: { kind: 'mcp', serverUrl: 'https://mcp.example.com/mcp', ...extra },
  } as ProviderDefinition;
}

describe('defineProvider', () => {
  it('fills in defaults and freezes the result', () => {
    const p = defineProvider(base);
    expect(p.name).toBe('Example');
    expect(p.strategy).toMatchObject({
      kind: 'oauth',
      discovery: true,
      scopeSeparator: ' ',
      clientAuthentication: { method: 'none' },
      redirect: { port: 0, path: '/callback' },
      scopes: ['read', 'write'],
    });
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.strategy)).toBe(true);
  });

  it('turns discovery off when both required endpoints are static', () => {
    const p = defineProvider(
      withStrategy({
        endpoints: {
          authorization: 'https://a.example.com/auth',
          token: 'https://a.example.com/token',
        },
      }) as ProviderDefinition,
    );
    expect((p.strategy as OAuthStrategy).discovery).toBe(false);
  });

  it('keeps a client secret as a redacted Secret', () => {
    const p = defineProvider(
      withStrategy({ clientSecret: 'canary-client-secret-1234' }) as ProviderDefinition,
    );
    const auth = (p.strategy as OAuthStrategy).clientAuthentication;
    expect(auth.method).toBe('client_secret_basic');
    expect(JSON.stringify(p)).not.toContain('canary-client-secret-1234');
    expect(auth.method === 'client_secret_basic' && auth.clientSecret.reveal()).toBe(
      'canary-client-secret-1234',
    );
  });

  it('accepts loopback http endpoints', () => {
    expect(() =>
      defineProvider(withStrategy({ issuer: 'http://127.0.0.1:4000' }) as ProviderDefinition),
    ).not.toThrow();
  });

  it.each([
    ['id', { ...base, id: '' }],
    ['id', { ...base, id: 'has space' }],
    ['name', { ...base, name: '' }],
    ['strategy', { ...base, strategy: undefined }],
    ['strategy.kind', withStrategy({ kind: 'magic' })],
    ['strategy.clientId', withStrategy({ clientId: '' })],
    ['strategy.clientId', withStrategy({ clientId: undefined })],
    ['strategy.issuer', withStrategy({ issuer: 'http://auth.example.com' })],
    ['strategy.issuer', withStrategy({ issuer: 'not a url' })],
    [
      'strategy.endpoints.token',
      withStrategy({ endpoints: { token: 'http://evil.example.com/token' } }),
    ],
    ['strategy.endpoints.bogus', withStrategy({ endpoints: { bogus: 'https://x.example.com' } })],
    [
      'strategy.endpoints.token',
      withStrategy({
        discovery: false,
        endpoints: { authorization: 'https://a.example.com/auth' },
      }),
    ],
    ['strategy.clientSecret', withStrategy({ clientAuthentication: 'client_secret_post' })],
    [
      'strategy.clientAuthentication',
      withStrategy({ clientAuthentication: 'none', clientSecret: 'abc' }),
    ],
    ['strategy.clientAuthentication', withStrategy({ clientAuthentication: 'private_key_jwt' })],
    ['strategy.tokenExchange', withStrategy({ tokenExchange: 'http://proxy.example.com/token' })],
    [
      'strategy.tokenExchange',
      withStrategy({ tokenExchange: 'https://proxy.example.com', clientSecret: 'abc' }),
    ],
    ['strategy.scopes[1]', withStrategy({ scopes: ['ok', 'has space'] })],
    ['strategy.scopes', withStrategy({ scopes: 'read' })],
    ['strategy.scopes[0]', withStrategy({ scopes: ['a,b'], scopeSeparator: ',' })],
    ['strategy.authorizationParams.state', withStrategy({ authorizationParams: { state: 'x' } })],
    ['strategy.authorizationParams.n', withStrategy({ authorizationParams: { n: 1 } })],
    ['strategy.redirect.port', withStrategy({ redirect: { port: 70000 } })],
    ['strategy.redirect.path', withStrategy({ redirect: { path: 'callback' } })],
    ['strategy.redirect.path', withStrategy({ redirect: { path: '/cb?x=1' } })],
    ['strategy.mapTokenResponse', withStrategy({ mapTokenResponse: 'nope' })],
    ['strategy.dpop', withStrategy({ dpop: 'always' })],
    ['strategy.dpop', mcpStrategy({ dpop: true })],
    ['strategy.jwtBearer.clientId', mcpStrategy({ jwtBearer: { assertion: 'a.b.c' } })],
    ['strategy.jwtBearer.assertion', mcpStrategy({ jwtBearer: { clientId: 'w' } })],
    ['strategy.jwtBearer.assertion', mcpStrategy({ jwtBearer: { clientId: 'w', assertion: 42 } })],
    [
      'strategy.jwtBearer.clientSecret',
      mcpStrategy({
        jwtBearer: { clientId: 'w', assertion: 'a.b.c', authMethod: 'client_secret_post' },
      }),
    ],
    [
      'strategy.jwtBearer',
      mcpStrategy({
        jwtBearer: { clientId: 'w', assertion: 'a.b.c' },
        clientCredentials: { clientId: 'c', clientSecret: 's' },
      }),
    ],
    ['identify', { ...base, identify: 42 }],
  ])('names the bad field %s', (field, def) => {
    const error = configError(def);
    expect(error.message).toContain(`"${field}"`);
  });

  it('takes DPoP policies, with auto for mcp and refuse for oauth by default', () => {
    const remote = defineProvider(mcpStrategy({}));
    expect(remote.strategy.kind === 'mcp' && remote.strategy.dpop).toBe('auto');
    const service = defineProvider(withStrategy({}) as ProviderDefinition);
    expect(service.strategy.kind === 'oauth' && service.strategy.dpop).toBe('refuse');
    const strict = defineProvider(withStrategy({ dpop: 'require' }) as ProviderDefinition);
    expect(strict.strategy.kind === 'oauth' && strict.strategy.dpop).toBe('require');
  });

  it('throws TypeError for a non-object', () => {
    expect(() => defineProvider(undefined as unknown as ProviderDefinition)).toThrow(TypeError);
  });
});
