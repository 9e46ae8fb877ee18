import { describe, expect, it } from 'vitest';
import { isLatchkeyError, mcpAuthProvider } from '../src/index.js';
import {
  authorizationServerMetadataUrls,
  canonicalResource,
  protectedResourceMetadataUrls,
  resourceCovers,
} from '../src/oauth.js';
import { scopesFor } from '../src/strategies/mcp/engine.js';

describe('canonical resource URI (RFC 8707)', () => {
  it.each([
    ['https://mcp.example.com', 'https://mcp.example.com'],
    ['https://mcp.example.com/', 'https://mcp.example.com'],
    ['https://MCP.example.com/mcp#frag', 'https://mcp.example.com/mcp'],
    ['https://mcp.example.com/mcp/', 'https://mcp.example.com/mcp/'],
    ['https://mcp.example.com:443/a/b?x=1', 'https://mcp.example.com/a/b?x=1'],
  ])('%s -> %s', (input, expected) => {
    expect(canonicalResource(input)).toBe(expected);
  });
});

describe('protected resource metadata names the server (RFC 9728 §3.3)', () => {
  it.each([
    ['https://a.example/mcp', 'https://a.example/mcp', true],
    ['https://a.example', 'https://a.example/mcp', true],
    ['https://a.example/', 'https://a.example/mcp', true],
    ['https://a.example/api', 'https://a.example/api/mcp', true],
    ['https://a.example/ap', 'https://a.example/api/mcp', false],
    ['https://evil.example/mcp', 'https://a.example/mcp', false],
    ['http://a.example/mcp', 'https://a.example/mcp', false],
    ['https://a.example/mcp/other', 'https://a.example/mcp', false],
    ['not a url', 'https://a.example/mcp', false],
  ])('%s for %s: %s', (resource, server, expected) => {
    expect(resourceCovers(resource, server)).toBe(expected);
  });
});

describe('discovery order', () => {
  it('protected resource metadata: the challenge URL alone, else path-based then root', () => {
    expect(
      protectedResourceMetadataUrls('https://a.example/mcp', 'https://a.example/custom.json'),
    ).toEqual(['https://a.example/custom.json']);
    expect(protectedResourceMetadataUrls('https://a.example/public/mcp')).toEqual([
      'https://a.example/.well-known/oauth-protected-resource/public/mcp',
      'https://a.example/.well-known/oauth-protected-resource',
    ]);
    expect(protectedResourceMetadataUrls('https://a.example')).toEqual([
      'https://a.example/.well-known/oauth-protected-resource',
    ]);
  });

  it('authorization server metadata: the three path forms, or the two root forms', () => {
    expect(authorizationServerMetadataUrls('https://as.example/t1')).toEqual([
      'https://as.example/.well-known/oauth-authorization-server/t1',
      'https://as.example/.well-known/openid-configuration/t1',
      'https://as.example/t1/.well-known/openid-configuration',
    ]);
    expect(authorizationServerMetadataUrls('https://as.example')).toEqual([
      'https://as.example/.well-known/oauth-authorization-server',
      'https://as.example/.well-known/openid-configuration',
    ]);
  });
});

describe('scope selection', () => {
  const as = { issuer: 'https://as.example' };
  const prm = { resource: 'https://a.example/mcp', url: 'x', scopes_supported: ['a', 'b'] };
  it('takes the challenge scope as authoritative', () => {
    expect(
      scopesFor([], { challenge: { scope: ['c'] }, resourceMetadata: prm, as, published: true }),
    ).toEqual(['c']);
  });
  it('else every scope the resource supports', () => {
    expect(scopesFor([], { resourceMetadata: prm, as, published: true })).toEqual(['a', 'b']);
  });
  it('else none', () => {
    expect(scopesFor([], { as, published: true })).toEqual([]);
  });
  it('adds the host scopes, and offline_access only when the server lists it', () => {
    expect(
      scopesFor(['x'], {
        resourceMetadata: prm,
        as: { ...as, scopes_supported: ['a', 'offline_access'] },
        published: true,
      }),
    ).toEqual(['a', 'b', 'x', 'offline_access']);
  });
});

describe('mcpAuthProvider options', () => {
  function configError(run: () => unknown): string {
    try {
      run();
    } catch (error) {
      expect(isLatchkeyError(error, 'PROVIDER_CONFIG')).toBe(true);
      return (error as Error).message;
    }
    throw new Error('accepted a bad configuration');
  }

  it('refuses plain http without the development switch, even on loopback', () => {
    expect(configError(() => mcpAuthProvider('http://127.0.0.1:3000/mcp'))).toContain(
      '"strategy.serverUrl"',
    );
    expect(() =>
      mcpAuthProvider('http://127.0.0.1:3000/mcp', { allowHttpLoopback: true }),
    ).not.toThrow();
    expect(
      configError(() => mcpAuthProvider('http://mcp.example.com/mcp', { allowHttpLoopback: true })),
    ).toContain('not loopback');
  });

  it('needs a client metadata document URL with a path', () => {
    expect(
      configError(() =>
        mcpAuthProvider('https://mcp.example.com/mcp', {
          clientMetadataUrl: 'https://app.example',
        }),
      ),
    ).toContain('"strategy.clientMetadataUrl"');
  });

  it('derives a stable id from the server URL', () => {
    const a = mcpAuthProvider('https://mcp.example.com');
    const b = mcpAuthProvider('https://MCP.example.com/');
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^mcp-mcp\.example\.com-[0-9a-f]{10}$/);
    expect(mcpAuthProvider('https://mcp.example.com/other').id).not.toBe(a.id);
  });

  it('keeps secrets redacted', () => {
    const p = mcpAuthProvider('https://mcp.example.com/mcp', {
      client: { clientId: 'c', clientSecret: 'canary-secret-123456' },
    });
    expect(JSON.stringify(p)).not.toContain('canary-secret-123456');
  });
});
