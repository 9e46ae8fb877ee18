import * as oauth from 'oauth4webapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  completeAuthorization,
  decodeJwt,
  type McpAuthServer,
  RESOURCE_SERVER_AGENT,
  type RunningFakeAuthServer,
  startAuthServer,
  startFakeAuthServer,
  startMcpAuthServer,
  startMcpServer,
  type TestMcpServer,
  tokenHash,
} from '../src/index.js';
import { type CallbackServer, insecure, startCallbackServer } from './oauth-client.js';

let as: McpAuthServer;
let other: McpAuthServer;
let callback: CallbackServer;
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  as = await startMcpAuthServer({ accessTokenTtl: 120 });
  other = await startMcpAuthServer();
  callback = await startCallbackServer();
});
afterAll(async () => {
  await Promise.all([as?.close(), other?.close(), callback?.close()]);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  as.clearRequests();
});

async function mcpServer(options: Parameters<typeof startMcpServer>[0]): Promise<TestMcpServer> {
  const server = await startMcpServer(options);
  open.push(server);
  return server;
}

/** Registers a client, signs in for `resource` and returns the token response. */
async function tokensFor(
  server: McpAuthServer,
  resource: string,
  scope = 'mcp:read offline_access',
) {
  const issuer = new URL(server.issuer);
  const metadata = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, insecure),
  );
  const redirectUri = callback.url('/callback');
  const registration = await oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(
      metadata,
      {
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'none',
        application_type: 'native',
      },
      insecure,
    ),
  );
  const client = { client_id: registration.client_id };
  const verifier = oauth.generateRandomCodeVerifier();
  const url = new URL(metadata.authorization_endpoint as string);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope,
    state: 'st',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    resource,
  }).toString();
  const outcome = await completeAuthorization(url.href);
  const params = oauth.validateAuthResponse(metadata, client, new URL(outcome.finalUrl), 'st');
  const response = await oauth.authorizationCodeGrantRequest(
    metadata,
    client,
    oauth.None(),
    params,
    redirectUri,
    verifier,
    { ...insecure, additionalParameters: { resource } },
  );
  const tokens = await oauth.processAuthorizationCodeResponse(metadata, client, response);
  return { tokens, client, metadata };
}

function call(url: string, token: string | undefined, tool = 'read-thing') {
  return fetch(url, {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool } }),
  });
}

describe('startMcpAuthServer', () => {
  it('registers clients and issues ES256 JWT access tokens for the resource, with rotating refresh tokens', async () => {
    const resource = 'http://127.0.0.1:9/mcp';
    const { tokens, client, metadata } = await tokensFor(as, resource);
    expect(metadata.registration_endpoint).toBe(`${as.issuer}/reg`);
    expect(metadata.scopes_supported).toEqual(
      expect.arrayContaining(['mcp:read', 'mcp:write', 'offline_access']),
    );
    const { header, claims } = decodeJwt(tokens.access_token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(claims).toMatchObject({
      iss: as.issuer,
      aud: resource,
      scope: 'mcp:read',
      client_id: client.client_id,
    });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(120);
    expect(tokens.refresh_token).toBeDefined();

    const refreshed = await oauth.processRefreshTokenResponse(
      metadata,
      client,
      await oauth.refreshTokenGrantRequest(
        metadata,
        client,
        oauth.None(),
        tokens.refresh_token as string,
        insecure,
      ),
    );
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(decodeJwt(refreshed.access_token).claims.aud).toBe(resource);

    const requests = as.requests();
    expect(requests.map((r) => r.endpoint)).toEqual([
      'metadata',
      'registration',
      'authorization',
      'other',
      'other',
      'other',
      'other',
      'token',
      'token',
    ]);
    const [code, refresh] = requests.filter((r) => r.endpoint === 'token');
    expect(code).toMatchObject({ grantType: 'authorization_code', resource: [resource] });
    expect(refresh?.presentedTokens).toEqual([tokenHash(tokens.refresh_token as string)]);
    expect(as.issuedTokens().has(tokenHash(refreshed.access_token))).toBe(true);
    expect(as.registeredClients()).toEqual([client.client_id]);
  });

  it('leaves startAuthServer as it was: no registration endpoint, offline_access listed', async () => {
    const plain = await startAuthServer();
    open.push(plain);
    const issuer = new URL(plain.issuer);
    const metadata = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, insecure),
    );
    expect(metadata.registration_endpoint).toBeUndefined();
    expect(metadata.scopes_supported).toContain('offline_access');
  });
});

describe('startMcpServer', () => {
  it('challenges with the resource metadata and scope, and publishes the metadata', async () => {
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    const refused = await call(mcp.url, undefined);
    expect(refused.status).toBe(401);
    const header = refused.headers.get('www-authenticate') ?? '';
    expect(header).toMatch(/^Bearer /);
    expect(header).toContain(
      `resource_metadata="${mcp.origin}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(header).toContain('scope="mcp:read"');
    expect(await fetch(mcp.metadataUrl).then((r) => r.json())).toEqual({
      resource: mcp.url,
      authorization_servers: [as.issuer],
      scopes_supported: ['mcp:read', 'mcp:write'],
      bearer_methods_supported: ['header'],
    });
  });

  it('accepts its authorization server tokens for it, refuses others, and asks for more scope per tool', async () => {
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    const { tokens } = await tokensFor(as, mcp.url);
    const read = await call(mcp.url, tokens.access_token);
    expect(read.status).toBe(200);
    expect(JSON.stringify(await read.json())).toContain('read-thing done');

    const write = await call(mcp.url, tokens.access_token, 'write-thing');
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toMatch(
      /^Bearer error="insufficient_scope".*scope="mcp:read mcp:write"/,
    );

    const wrongAudience = await tokensFor(as, 'http://127.0.0.1:9/elsewhere');
    expect((await call(mcp.url, wrongAudience.tokens.access_token)).status).toBe(401);

    const fromOther = await tokensFor(other, mcp.url);
    expect((await call(mcp.url, fromOther.tokens.access_token)).status).toBe(401);
    mcp.moveTo(other.issuer);
    expect((await call(mcp.url, fromOther.tokens.access_token)).status).toBe(200);
    expect((await call(mcp.url, tokens.access_token)).status).toBe(401);

    mcp.revokeTokens([tokenHash(fromOther.tokens.access_token)]);
    expect((await call(mcp.url, fromOther.tokens.access_token)).status).toBe(401);

    const seen = mcp.requests().filter((r) => r.path === '/mcp');
    expect(seen.map((r) => [r.status, r.tool])).toEqual([
      [200, 'read-thing'],
      [403, 'write-thing'],
      [401, 'read-thing'],
      [401, 'read-thing'],
      [200, 'read-thing'],
      [401, 'read-thing'],
      [401, 'read-thing'],
    ]);
    expect(seen[0]?.token).toBe(tokenHash(tokens.access_token));
    // Its key fetches are marked, so that tests can leave them out.
    expect(other.requests().filter((r) => r.endpoint === 'jwks')[0]?.fromResourceServer).toBe(true);
    expect(RESOURCE_SERVER_AGENT).toBe('latchkey-testkit-mcp-server');
  });
});

describe('startFakeAuthServer', () => {
  let fake: RunningFakeAuthServer;
  beforeAll(async () => {
    fake = await startFakeAuthServer({ clients: [{ clientId: 'pub' }] });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('runs authorization code with PKCE, refuses a wrong verifier, and checks its own tokens', async () => {
    const issuer = new URL(fake.issuer);
    const metadata = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }),
    );
    const client = { client_id: 'pub' };
    const resource = 'http://127.0.0.1:9/mcp';
    const redeem = async (right: boolean) => {
      const verifier = oauth.generateRandomCodeVerifier();
      const url = new URL(metadata.authorization_endpoint as string);
      url.search = new URLSearchParams({
        client_id: 'pub',
        redirect_uri: callback.url('/cb'),
        response_type: 'code',
        state: 's',
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        resource,
        scope: 'mcp:read',
      }).toString();
      const outcome = await completeAuthorization(url.href);
      const params = oauth.validateAuthResponse(metadata, client, new URL(outcome.finalUrl), 's');
      return oauth.authorizationCodeGrantRequest(
        metadata,
        client,
        oauth.None(),
        params,
        callback.url('/cb'),
        right ? verifier : oauth.generateRandomCodeVerifier(),
        { ...insecure, additionalParameters: { resource } },
      );
    };
    expect((await redeem(false)).status).toBe(400);
    const tokens = await oauth.processAuthorizationCodeResponse(
      metadata,
      client,
      await redeem(true),
    );
    expect(await fake.verifyAccessToken(tokens.access_token)).toMatchObject({
      clientId: 'pub',
      scopes: ['mcp:read'],
      resource: new URL(resource),
    });
    expect(fake.requests().map((r) => `${r.endpoint} ${r.status}`)).toEqual([
      'metadata 200',
      'authorization 302',
      'token 400',
      'authorization 302',
      'token 200',
    ]);
  });
});
