// The test kit's DPoP (RFC 9449) servers, checked with oauth4webapi as the client and
// with hand-made proofs for the bad cases: oidc-provider binding tokens to proof keys,
// demanding nonces or DPoP itself, and the MCP server fixture checking proofs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AuthServerRequest,
  completeAuthorization,
  DPOP_ALGS,
  type DpopKey,
  decodeJwt,
  generateDpopKey,
  jwkThumbprint,
  type McpAuthServer,
  type McpServerOptions,
  type McpServerRequest,
  signDpopProof,
  startMcpAuthServer,
  startMcpServer,
  type TestMcpServer,
  verifyDpopProof,
} from '@latchkey/testkit';
import * as oauth from 'oauth4webapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const insecure = { [oauth.allowInsecureRequests]: true } as const;

let plain: McpAuthServer;
let as: McpAuthServer;
let nonceAs: McpAuthServer;
let requiredAs: McpAuthServer;
let callback: Server;
let callbackUrl: string;
const open: TestMcpServer[] = [];

beforeAll(async () => {
  callback = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in');
  });
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  callbackUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
  [plain, as, nonceAs, requiredAs] = await Promise.all([
    startMcpAuthServer(),
    startMcpAuthServer({ dpop: {} }),
    startMcpAuthServer({ dpop: { requireNonce: true } }),
    startMcpAuthServer({ dpop: { required: true } }),
  ]);
});

afterAll(async () => {
  await Promise.all([plain?.close(), as?.close(), nonceAs?.close(), requiredAs?.close()]);
  await new Promise<void>((resolve) => {
    if (!callback) return resolve();
    callback.close(() => resolve());
    callback.closeAllConnections();
  });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((server) => server.close()));
});

async function mcpServer(options: McpServerOptions): Promise<TestMcpServer> {
  const server = await startMcpServer({ authorizationServers: [as.issuer], ...options });
  open.push(server);
  return server;
}

/** A webcrypto pair of the test kit key, so oauth4webapi and hand-made proofs share one key. */
async function cryptoPair(key: DpopKey): Promise<CryptoKeyPair> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const privateJwk = key.privateKey.export({ format: 'jwk' });
  return {
    privateKey: await crypto.subtle.importKey('jwk', privateJwk, algorithm, false, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', key.publicJwk, algorithm, true, ['verify']),
  };
}

async function discover(server: McpAuthServer): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(server.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
}

/** Registers a public native client, as an MCP client does. */
async function register(
  metadata: oauth.AuthorizationServer,
  extra: Record<string, unknown> = {},
): Promise<oauth.Client> {
  return oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(
      metadata,
      {
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'none',
        application_type: 'native',
        ...extra,
      },
      insecure,
    ),
  );
}

/** One signed-in client: what it needs to ask for tokens. */
interface Login {
  metadata: oauth.AuthorizationServer;
  client: oauth.Client;
  resource: string;
}

/** Runs the authorization request through the test kit's unattended user; gives the callback parameters and verifier. */
async function authorize(login: Login, extra: Record<string, string> = {}) {
  const verifier = oauth.generateRandomCodeVerifier();
  const url = new URL(login.metadata.authorization_endpoint as string);
  url.search = new URLSearchParams({
    client_id: login.client.client_id,
    redirect_uri: callbackUrl,
    response_type: 'code',
    scope: 'mcp:read offline_access',
    state: 'st',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    resource: login.resource,
    prompt: 'consent',
    ...extra,
  }).toString();
  const outcome = await completeAuthorization(url.href);
  const params = oauth.validateAuthResponse(
    login.metadata,
    login.client,
    new URL(outcome.finalUrl),
    'st',
  );
  return { params, verifier };
}

function dpopOption(handle: oauth.DPoPHandle | undefined) {
  return handle ? { DPoP: handle } : {};
}

/** Redeems a code, with a proof when `handle` is given (no nonce retry). */
async function redeem(
  login: Login,
  code: Awaited<ReturnType<typeof authorize>>,
  handle?: oauth.DPoPHandle,
): Promise<oauth.TokenEndpointResponse> {
  const response = await oauth.authorizationCodeGrantRequest(
    login.metadata,
    login.client,
    oauth.None(),
    code.params,
    callbackUrl,
    code.verifier,
    { ...insecure, additionalParameters: { resource: login.resource }, ...dpopOption(handle) },
  );
  return oauth.processAuthorizationCodeResponse(login.metadata, login.client, response);
}

/** Refreshes, with a proof when `handle` is given (no nonce retry). */
async function refresh(
  login: Login,
  refreshToken: string,
  handle?: oauth.DPoPHandle,
): Promise<oauth.TokenEndpointResponse> {
  const response = await oauth.refreshTokenGrantRequest(
    login.metadata,
    login.client,
    oauth.None(),
    refreshToken,
    { ...insecure, additionalParameters: { resource: login.resource }, ...dpopOption(handle) },
  );
  return oauth.processRefreshTokenResponse(login.metadata, login.client, response);
}

/** Registers a client at `server` for `resource`. */
async function loginAt(server: McpAuthServer, resource: string): Promise<Login> {
  const metadata = await discover(server);
  return { metadata, client: await register(metadata), resource };
}

/** The OAuth error code a call is refused with. */
async function oauthError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) return error.error;
    throw error;
  }
  throw new Error('expected the call to be refused');
}

function tokenRequests(server: McpAuthServer): AuthServerRequest[] {
  return server.requests().filter((r) => r.endpoint === 'token');
}

describe('startMcpAuthServer with dpop', () => {
  it('advertises DPoP only when asked to, and otherwise ignores proofs', async () => {
    expect((await discover(as)).dpop_signing_alg_values_supported).toEqual([
      'ES256',
      'Ed25519',
      'EdDSA',
    ]);
    expect(await discover(plain)).not.toHaveProperty('dpop_signing_alg_values_supported');

    const login = await loginAt(plain, 'http://127.0.0.1:9/mcp');
    const key = generateDpopKey();
    const handle = oauth.DPoP(login.client, await cryptoPair(key));
    const tokens = await redeem(login, await authorize(login), handle);
    expect(tokens.token_type).toBe('bearer');
    expect(decodeJwt(tokens.access_token).claims).not.toHaveProperty('cnf');
    // The proof is still recorded, so a test can see that the client sent one.
    expect(tokenRequests(plain).at(-1)?.dpop?.jkt).toBe(key.jkt);
  });

  it('binds the tokens of a request with a proof to its key, refresh token included, and records the proof', async () => {
    as.clearRequests();
    const login = await loginAt(as, 'http://127.0.0.1:9/mcp');
    const key = generateDpopKey();
    const handle = oauth.DPoP(login.client, await cryptoPair(key));
    expect(await handle.calculateThumbprint()).toBe(key.jkt);

    const tokens = await redeem(login, await authorize(login), handle);
    expect(tokens.token_type).toBe('dpop');
    expect(decodeJwt(tokens.access_token).claims).toMatchObject({
      aud: 'http://127.0.0.1:9/mcp',
      cnf: { jkt: key.jkt },
    });
    expect(tokenRequests(as).at(-1)).toMatchObject({
      status: 200,
      grantType: 'authorization_code',
      dpop: { jkt: key.jkt, htm: 'POST', htu: `${as.issuer}/token` },
    });
    expect(tokenRequests(as).at(-1)?.dpop).not.toHaveProperty('nonce');

    // A public client's refresh token is bound as well: no proof, or another key, is refused.
    const refreshToken = tokens.refresh_token as string;
    expect(await oauthError(refresh(login, refreshToken))).toBe('invalid_grant');
    const other = oauth.DPoP(login.client, await oauth.generateKeyPair('ES256'));
    expect(await oauthError(refresh(login, refreshToken, other))).toBe('invalid_grant');
    const refreshed = await refresh(login, refreshToken, handle);
    expect(refreshed.token_type).toBe('dpop');
    expect(decodeJwt(refreshed.access_token).claims).toMatchObject({ cnf: { jkt: key.jkt } });

    // Revocation takes the bound refresh token without a proof.
    const revocation = await oauth.revocationRequest(
      login.metadata,
      login.client,
      oauth.None(),
      refreshed.refresh_token as string,
      insecure,
    );
    await oauth.processRevocationResponse(revocation);
    expect(await oauthError(refresh(login, refreshed.refresh_token as string, handle))).toBe(
      'invalid_grant',
    );
  });

  it('issues Bearer tokens to a request without a proof unless DPoP is required', async () => {
    const login = await loginAt(as, 'http://127.0.0.1:9/mcp');
    const tokens = await redeem(login, await authorize(login));
    expect(tokens.token_type).toBe('bearer');
    expect(decodeJwt(tokens.access_token).claims).not.toHaveProperty('cnf');
    expect(tokenRequests(as).at(-1)).not.toHaveProperty('dpop');
  });

  it('records dpop_jkt and refuses a code bound to it when redeemed with another key', async () => {
    const login = await loginAt(as, 'http://127.0.0.1:9/mcp');
    const key = generateDpopKey();
    as.clearRequests();
    const code = await authorize(login, { dpop_jkt: key.jkt });
    expect(as.requests().find((r) => r.endpoint === 'authorization')).toMatchObject({
      authorizationDpopJkt: key.jkt,
    });
    const other = oauth.DPoP(login.client, await oauth.generateKeyPair('ES256'));
    expect(await oauthError(redeem(login, code, other))).toBe('invalid_grant');

    const bound = await authorize(login, { dpop_jkt: key.jkt });
    const handle = oauth.DPoP(login.client, await cryptoPair(key));
    expect((await redeem(login, bound, handle)).token_type).toBe('dpop');
  });

  it('with requireNonce answers a proof without a nonce once with use_dpop_nonce', async () => {
    nonceAs.clearRequests();
    const login = await loginAt(nonceAs, 'http://127.0.0.1:9/mcp');
    const handle = oauth.DPoP(login.client, await oauth.generateKeyPair('ES256'));
    const code = await authorize(login);
    const first = await redeem(login, code, handle).catch((error: unknown) => error);
    expect(oauth.isDPoPNonceError(first)).toBe(true);
    const nonce = (first as oauth.ResponseBodyError).response.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[\w-]{20,}$/);
    const tokens = await redeem(login, code, handle);
    expect(tokens.token_type).toBe('dpop');

    const [refused, accepted] = tokenRequests(nonceAs);
    expect(refused).toMatchObject({ status: 400 });
    expect(refused?.dpop).not.toHaveProperty('nonce');
    expect(accepted).toMatchObject({ status: 200, dpop: { nonce } });

    // A refreshed nonce: the next request carrying one is refused once, then goes through.
    nonceAs.refuseNextDpopNonce();
    const stale = await refresh(login, tokens.refresh_token as string, handle).catch(
      (error: unknown) => error,
    );
    expect(oauth.isDPoPNonceError(stale)).toBe(true);
    expect((await refresh(login, tokens.refresh_token as string, handle)).token_type).toBe('dpop');
  });

  it('with required forces DPoP on every client and refuses a token request without a proof', async () => {
    const metadata = await discover(requiredAs);
    const client = await register(metadata, { dpop_bound_access_tokens: false });
    expect(client.dpop_bound_access_tokens).toBe(true);
    const login = { metadata, client, resource: 'http://127.0.0.1:9/mcp' };
    expect(await oauthError(redeem(login, await authorize(login)))).toBe('invalid_grant');
    expect(tokenRequests(requiredAs).at(-1)).toMatchObject({ status: 400 });

    const handle = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    expect((await redeem(login, await authorize(login), handle)).token_type).toBe('dpop');
  });
});

/** A JSON-RPC tools/call request body. */
function toolCall(tool = 'read-thing'): string {
  return JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool } });
}

const MCP_HEADERS = {
  accept: 'application/json, text/event-stream',
  'content-type': 'application/json',
};

/** Calls a tool by hand with `authorization` and, when given, a `DPoP` proof. */
function call(
  url: string,
  authorization: string | undefined,
  proof?: string,
  tool = 'read-thing',
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      ...MCP_HEADERS,
      ...(authorization ? { authorization } : {}),
      ...(proof ? { dpop: proof } : {}),
    },
    body: toolCall(tool),
  });
}

/** A DPoP-bound access token for `mcp`, bound to `key`. */
async function boundToken(mcp: TestMcpServer, key: DpopKey, scope = 'mcp:read'): Promise<string> {
  const login = await loginAt(as, mcp.url);
  const handle = oauth.DPoP(login.client, await cryptoPair(key));
  const tokens = await redeem(login, await authorize(login, { scope }), handle);
  return tokens.access_token;
}

/** A Bearer access token for `mcp`. */
async function bearerToken(mcp: TestMcpServer): Promise<string> {
  const login = await loginAt(as, mcp.url);
  return (await redeem(login, await authorize(login))).access_token;
}

/** A correct proof for a tool call to `mcp` with `token`. */
function proofFor(mcp: TestMcpServer, key: DpopKey, token: string, nonce?: string): string {
  return signDpopProof(key, {
    htm: 'POST',
    htu: mcp.url,
    accessToken: token,
    ...(nonce ? { nonce } : {}),
  });
}

function last(mcp: TestMcpServer): McpServerRequest | undefined {
  return mcp.requests().at(-1);
}

async function expectRefusal(response: Response, error: string, description: RegExp) {
  expect(response.status).toBe(401);
  const header = response.headers.get('www-authenticate') ?? '';
  expect(header).toMatch(new RegExp(`^DPoP error="${error}"`));
  expect(header).toMatch(new RegExp(`error_description="[^"]*${description.source}`));
  expect(header).toContain(`algs="${DPOP_ALGS.join(' ')}"`);
  await response.body?.cancel();
}

describe('startMcpServer with dpop: accept', () => {
  let mcp: TestMcpServer;
  let key: DpopKey;
  let token: string;

  beforeAll(async () => {
    // Its own server, so the tests here share one bound token.
    mcp = await startMcpServer({ authorizationServers: [as.issuer], dpop: 'accept' });
    key = generateDpopKey();
    token = await boundToken(mcp, key);
  });
  afterAll(async () => {
    await mcp?.close();
  });

  it('serves an oauth4webapi DPoP request and records its scheme and proof', async () => {
    const pair = await cryptoPair(key);
    const client: oauth.Client = { client_id: decodeJwt(token).claims.client_id as string };
    const handle = oauth.DPoP(client, pair);
    const response = await oauth.protectedResourceRequest(
      token,
      'POST',
      new URL(mcp.url),
      new Headers(MCP_HEADERS),
      toolCall(),
      { ...insecure, DPoP: handle },
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toContain(`read-thing done for ${client.client_id}`);
    expect(last(mcp)).toMatchObject({ scheme: 'DPoP', dpopJkt: key.jkt, status: 200 });
    expect(last(mcp)?.dpopJti).toMatch(/./);
    expect(last(mcp)).not.toHaveProperty('dpopRefusal');
    const metadata = await fetch(mcp.metadataUrl).then((r) => r.json());
    expect(metadata).toMatchObject({ dpop_signing_alg_values_supported: [...DPOP_ALGS] });
    expect(metadata).not.toHaveProperty('dpop_bound_access_tokens_required');
  });

  it('ignores the query of htu but refuses a replayed proof', async () => {
    const proof = signDpopProof(key, { htm: 'POST', htu: `${mcp.url}?x=1#f`, accessToken: token });
    const first = await call(mcp.url, `DPoP ${token}`, proof);
    expect(first.status).toBe(200);
    await first.body?.cancel();
    await expectRefusal(
      await call(mcp.url, `DPoP ${token}`, proof),
      'invalid_dpop_proof',
      /DPoP proof replayed/,
    );
    expect(last(mcp)).toMatchObject({ dpopRefusal: 'invalid_dpop_proof', status: 401 });
  });

  it('refuses a proof whose ath, htu, htm or iat do not fit the request', async () => {
    const claims = { htm: 'POST', htu: mcp.url, accessToken: token };
    const cases: [Parameters<typeof signDpopProof>[1], RegExp][] = [
      [{ ...claims, accessToken: `${token}x` }, /DPoP proof ath mismatch/],
      [{ ...claims, htu: `${mcp.origin}/other` }, /DPoP proof htu mismatch/],
      [{ ...claims, htu: mcp.url.replace('127.0.0.1', 'localhost') }, /DPoP proof htu mismatch/],
      [{ ...claims, htm: 'GET' }, /DPoP proof htm mismatch/],
      [{ ...claims, iat: Math.floor(Date.now() / 1000) - 120 }, /DPoP proof iat/],
    ];
    for (const [spoiled, description] of cases) {
      const response = await call(mcp.url, `DPoP ${token}`, signDpopProof(key, spoiled));
      await expectRefusal(response, 'invalid_dpop_proof', description);
    }
    // The same request with a fitting proof goes through.
    const fitting = await call(mcp.url, `DPoP ${token}`, proofFor(mcp, key, token));
    expect(fitting.status).toBe(200);
    await fitting.body?.cancel();
  });

  it('refuses proofs that are not DPoP proofs of a public key', async () => {
    const claims = { htm: 'POST', htu: mcp.url, accessToken: token };
    const privateJwk = key.privateKey.export({ format: 'jwk' });
    const cases: [string | undefined, RegExp][] = [
      [undefined, /DPoP proof missing/],
      [signDpopProof(key, claims, { typ: 'JWT' }), /DPoP proof typ/],
      [signDpopProof(key, claims, { jwk: privateJwk }), /private key/],
      [signDpopProof(key, claims, { alg: 'ES384' }), /alg ES384/],
      [`${proofFor(mcp, key, token).slice(0, -4)}AAAA`, /signature/],
    ];
    for (const [proof, description] of cases) {
      await expectRefusal(
        await call(mcp.url, `DPoP ${token}`, proof),
        'invalid_dpop_proof',
        description,
      );
    }
  });

  it('refuses a proof signed by another key than the token is bound to', async () => {
    const other = generateDpopKey();
    await expectRefusal(
      await call(mcp.url, `DPoP ${token}`, proofFor(mcp, other, token)),
      'invalid_token',
      /Invalid DPoP key binding/,
    );
    expect(last(mcp)).toMatchObject({ dpopJkt: other.jkt, dpopRefusal: 'invalid_token' });
  });

  it('refuses a bound token sent as Bearer, and an unbound one sent as DPoP', async () => {
    await expectRefusal(
      await call(mcp.url, `Bearer ${token}`),
      'invalid_token',
      /A DPoP-bound token must be sent with the DPoP scheme/,
    );
    expect(last(mcp)).toMatchObject({ scheme: 'Bearer', dpopRefusal: 'invalid_token' });

    const bearer = await bearerToken(mcp);
    const served = await call(mcp.url, `Bearer ${bearer}`);
    expect(served.status).toBe(200);
    await served.body?.cancel();
    await expectRefusal(
      await call(mcp.url, `DPoP ${bearer}`, proofFor(mcp, key, bearer)),
      'invalid_token',
      /not DPoP-bound/,
    );
  });

  it('offers DPoP beside the Bearer challenge of a request without a token', async () => {
    const response = await call(mcp.url, undefined);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(
      new RegExp(`^Bearer error="invalid_token".*, DPoP algs="${DPOP_ALGS.join(' ')}"$`),
    );
    await response.body?.cancel();
  });

  it('asks for more scope with a DPoP challenge', async () => {
    const response = await call(mcp.url, `DPoP ${token}`, proofFor(mcp, key, token), 'write-thing');
    expect(response.status).toBe(403);
    const header = response.headers.get('www-authenticate') ?? '';
    expect(header).toMatch(/^DPoP error="insufficient_scope"/);
    expect(header).toContain('scope="mcp:read mcp:write"');
    expect(header).toContain(`resource_metadata="${mcp.metadataUrl}"`);
    expect(last(mcp)).toMatchObject({ dpopRefusal: 'insufficient_scope', status: 403 });
    await response.body?.cancel();
  });
});

describe('startMcpServer with DPoP nonces', () => {
  it('answers a proof without its nonce with use_dpop_nonce, and after rotateNonce again', async () => {
    const mcp = await mcpServer({ dpop: 'accept', dpopNonce: true });
    const key = generateDpopKey();
    const token = await boundToken(mcp, key);
    const client: oauth.Client = { client_id: decodeJwt(token).claims.client_id as string };
    const handle = oauth.DPoP(client, await cryptoPair(key));
    const request = () =>
      oauth.protectedResourceRequest(
        token,
        'POST',
        new URL(mcp.url),
        new Headers(MCP_HEADERS),
        toolCall(),
        { ...insecure, DPoP: handle },
      );

    const metadata = await fetch(mcp.metadataUrl);
    expect(metadata.headers.get('dpop-nonce')).toBe(mcp.dpopNonce());
    await metadata.body?.cancel();

    const refused = await request().catch((error: unknown) => error);
    expect(oauth.isDPoPNonceError(refused)).toBe(true);
    expect(last(mcp)).toMatchObject({ status: 401, dpopRefusal: 'use_dpop_nonce' });
    const served = await request();
    expect(served.status).toBe(200);
    expect(served.headers.get('dpop-nonce')).toBe(mcp.dpopNonce());
    await served.body?.cancel();

    const before = mcp.dpopNonce();
    mcp.rotateNonce();
    expect(mcp.dpopNonce()).not.toBe(before);
    const stale = await call(mcp.url, `DPoP ${token}`, proofFor(mcp, key, token, before));
    await expectRefusal(stale, 'use_dpop_nonce', /Resource server requires nonce/);
    expect(stale.headers.get('dpop-nonce')).toBe(mcp.dpopNonce());
    const fresh = await call(mcp.url, `DPoP ${token}`, proofFor(mcp, key, token, mcp.dpopNonce()));
    expect(fresh.status).toBe(200);
    await fresh.body?.cancel();
  });
});

describe('startMcpServer with dpop: require', () => {
  it('refuses Bearer with a DPoP challenge a client can discover from, and serves DPoP', async () => {
    const mcp = await mcpServer({ dpop: 'require' });
    const bearer = await bearerToken(mcp);
    for (const authorization of [`Bearer ${bearer}`, undefined]) {
      const response = await call(mcp.url, authorization);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(
        `DPoP scope="mcp:read", resource_metadata="${mcp.metadataUrl}", algs="${DPOP_ALGS.join(' ')}"`,
      );
      await response.body?.cancel();
      expect(last(mcp)).toMatchObject({ dpopRefusal: 'dpop_required' });
    }
    expect(await fetch(mcp.metadataUrl).then((r) => r.json())).toMatchObject({
      dpop_bound_access_tokens_required: true,
    });

    const key = generateDpopKey();
    const token = await boundToken(mcp, key);
    const response = await call(mcp.url, `DPoP ${token}`, proofFor(mcp, key, token));
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it('serves DPoP through the v2 SDK with the token on req.auth', async () => {
    const mcp = await mcpServer({ dpop: 'require', mcpSdk: 'v2' });
    const key = generateDpopKey();
    const token = await boundToken(mcp, key);
    const response = await call(mcp.url, `DPoP ${token}`, proofFor(mcp, key, token));
    expect(response.status).toBe(200);
    const clientId = decodeJwt(token).claims.client_id as string;
    expect(await response.text()).toContain(`read-thing done for ${clientId}`);
  });
});

describe('startMcpServer without dpop', () => {
  it('keeps to Bearer: a DPoP request gets the usual Bearer challenge and no DPoP metadata', async () => {
    const mcp = await mcpServer({});
    const key = generateDpopKey();
    const token = await boundToken(mcp, key);
    const response = await call(mcp.url, `DPoP ${token}`, proofFor(mcp, key, token));
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(response.headers.has('dpop-nonce')).toBe(false);
    await response.body?.cancel();
    expect(last(mcp)).toMatchObject({ scheme: 'DPoP', dpopJkt: key.jkt });
    expect(last(mcp)).not.toHaveProperty('dpopRefusal');
    expect(await fetch(mcp.metadataUrl).then((r) => r.json())).not.toHaveProperty(
      'dpop_signing_alg_values_supported',
    );
  });
});

describe('verifyDpopProof', () => {
  it.each(['ES256', 'EdDSA', 'PS256', 'RS256'] as const)(
    'checks %s signatures and gives the RFC 7638 thumbprint',
    (alg) => {
      const key = generateDpopKey(alg);
      const expected = { method: 'GET', url: 'https://rs.example/x?y=1' };
      const claims = { htm: 'GET', htu: 'https://rs.example/x' };
      const proof = signDpopProof(key, claims);
      expect(verifyDpopProof(proof, expected)).toMatchObject({ jkt: key.jkt, htm: 'GET' });
      // The same header and claims with the signature of another key of the same kind.
      const [header, payload] = proof.split('.');
      const stranger = signDpopProof(generateDpopKey(alg), claims).split('.')[2];
      expect(() => verifyDpopProof(`${header}.${payload}.${stranger}`, expected)).toThrow(
        /signature/,
      );
    },
  );

  it('computes the thumbprint of the RFC 7638 example key', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });
});
