// MCP authorization against broken and hostile servers. Real servers where the
// behaviour under test is a real server's (oidc-provider, the MCP SDK's server); a
// small fake authorization server (testkit) where a server has to misbehave on purpose.
// Every case ends in a specific LatchkeyError code, and no secret may appear in it.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  createFakeAuthServer,
  type FakeAuthServerOptions,
  type McpAuthServer,
  type McpServerOptions,
  type RunningFakeAuthServer,
  startFakeAuthServer,
  startMcpAuthServer,
  startMcpServer,
  type TestMcpServer,
  tokenHash,
} from '@latchkey/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AuthenticateOptions,
  authenticate,
  authorizedFetch,
  fileStore,
  isLatchkeyError,
  type JsonObject,
  type LatchkeyErrorCode,
  type LatchkeyEvent,
  type McpAuthProviderOptions,
  mcpAuthProvider,
  memoryStore,
} from '../src/index.js';
import { bearerChallenge, canonicalResource } from '../src/oauth.js';
import {
  createAuthorizationRequest,
  validateCallback,
} from '../src/strategies/oauth/authorization-request.js';
import { createOAuthContext } from '../src/strategies/oauth/authorization-server.js';
import { unattendedUser } from './helpers.js';

const LOOPBACK = '127.0.0.1';
/** A secret planted in hostile responses: it must never show up in an error or event. */
const CANARY = 'canary-5ecret-7f3a9c1e-never-print-me';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
function track<T extends { close(): Promise<void> }>(server: T): T {
  open.push(server);
  return server;
}

async function fakeAs(options: FakeAuthServerOptions = {}): Promise<RunningFakeAuthServer> {
  return track(await startFakeAuthServer(options));
}
async function realAs(
  options: Parameters<typeof startMcpAuthServer>[0] = {},
): Promise<McpAuthServer> {
  return track(await startMcpAuthServer(options));
}
async function mcpServer(options: McpServerOptions): Promise<TestMcpServer> {
  return track(await startMcpServer(options));
}

/**
 * The `fetch` every test hands to Latchkey: it refuses any address but 127.0.0.1 (and
 * records the attempt), and collects every secret value the servers hand out, so that
 * errors and events can be searched for them.
 */
function guardedFetch() {
  const attempted: string[] = [];
  const secrets = new Set<string>([CANARY]);
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    attempted.push(url.href);
    if (url.hostname !== LOOPBACK) throw new Error(`test guard: no request may leave ${LOOPBACK}`);
    const response = await fetch(input, init);
    if ((response.headers.get('content-type') ?? '').includes('json')) {
      const body = (await response
        .clone()
        .json()
        .catch(() => undefined)) as Record<string, unknown> | undefined;
      for (const field of [
        'access_token',
        'refresh_token',
        'client_secret',
        'registration_access_token',
      ]) {
        const value = body?.[field];
        if (typeof value === 'string' && value.length >= 8) secrets.add(value);
      }
    }
    return response;
  };
  return {
    fetch: fetchImpl,
    attempted,
    /** Addresses other than 127.0.0.1 that something tried to reach. */
    offLoopback: () => attempted.filter((u) => new URL(u).hostname !== LOOPBACK),
    secrets,
  };
}
type Guard = ReturnType<typeof guardedFetch>;

/** Everything an error could show: message, stack, causes, JSON, and the events. */
function leaks(guard: Guard, error: unknown, events: LatchkeyEvent[] = []): string[] {
  const text = [
    String(error),
    inspect(error, { depth: 10, showHidden: true }),
    JSON.stringify(error),
    error instanceof Error ? String(error.stack) : '',
    JSON.stringify(events),
  ].join('\n');
  return [...guard.secrets].filter((s) => text.includes(s));
}

/** Asserts `error` is a LatchkeyError with `code` that shows no secret. */
function expectRefused(
  error: unknown,
  code: LatchkeyErrorCode,
  guard: Guard,
  events?: LatchkeyEvent[],
) {
  expect(isLatchkeyError(error), `not a LatchkeyError: ${String(error)}`).toBe(true);
  expect((error as { code: string }).code, String(error)).toBe(code);
  expect(leaks(guard, error, events)).toEqual([]);
  expect(guard.offLoopback()).toEqual([]);
}

interface SignInOptions {
  provider?: McpAuthProviderOptions;
  auth?: Partial<AuthenticateOptions>;
  guard?: Guard;
}

/** Signs in to the MCP server at `url` the way a host would, as the unattended user. */
async function signIn(url: string, options: SignInOptions = {}) {
  const guard = options.guard ?? guardedFetch();
  const user = unattendedUser();
  const events: LatchkeyEvent[] = [];
  const session = await authenticate(
    mcpAuthProvider(url, { allowHttpLoopback: true, ...options.provider }),
    {
      store: memoryStore(),
      openUrl: user.openUrl,
      fetch: guard.fetch,
      onEvent: (e) => events.push(e),
      timeoutMs: 10_000,
      ...options.auth,
    },
  );
  return { session, user, guard, events };
}

/** The same, expecting a failure: resolves with the error and what was seen. */
async function signInFails(url: string, options: SignInOptions = {}) {
  const guard = options.guard ?? guardedFetch();
  const user = unattendedUser();
  const events: LatchkeyEvent[] = [];
  const error = await authenticate(
    mcpAuthProvider(url, { allowHttpLoopback: true, ...options.provider }),
    {
      store: memoryStore(),
      openUrl: user.openUrl,
      fetch: guard.fetch,
      onEvent: (e) => events.push(e),
      timeoutMs: 10_000,
      ...options.auth,
    },
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, user, guard, events };
}

let rpcId = 0;
/** One MCP `tools/call` over `fetchImpl` (the server is stateless: no session needed). */
async function callTool(fetchImpl: typeof fetch, url: string, name: string): Promise<Response> {
  rpcId += 1;
  return fetchImpl(url, {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: rpcId, method: 'tools/call', params: { name } }),
  });
}

async function toolText(response: Response): Promise<string> {
  const body = (await response.json()) as { result?: { content?: { text?: string }[] } };
  return body.result?.content?.[0]?.text ?? '';
}

function authorizations(requests: { endpoint: string }[]): number {
  return requests.filter((r) => r.endpoint === 'authorization').length;
}

function tokenRequests<T extends { endpoint: string; grantType?: string }>(
  requests: T[],
  grant?: string,
): T[] {
  return requests.filter((r) => r.endpoint === 'token' && (!grant || r.grantType === grant));
}

/** A TCP port that was free a moment ago. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, LOOPBACK, resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------------------------
describe('discovery (requirements 1-6)', () => {
  it('reads resource_metadata, scope and error from one of several challenges, quoted or not (#1)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({
      authorizationServers: [as.issuer],
      // Only here: not at a well-known URL, so it can only be found through the header.
      protectedResourceMetadata: { paths: ['/meta/mcp-resource'] },
    });
    mcp.rewriteChallenge(
      () =>
        `Basic realm="mcp", Bearer error=invalid_token, scope="mcp:read", resource_metadata="${mcp.metadataUrl}"`,
    );
    const { session, user } = await signIn(mcp.url);
    expect(session.current().metadata.issuer).toBe(as.issuer);
    expect(new URL(user.opened[0] as string).searchParams.get('scope')).toBe(
      'mcp:read offline_access',
    );
    expect(mcp.requests().map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /mcp',
      'GET /meta/mcp-resource',
    ]);

    const parsed = await bearerChallenge(
      new Response(null, {
        status: 403,
        headers: {
          'www-authenticate':
            'Basic realm="x", Bearer error=insufficient_scope, scope="mcp:read mcp:write", resource_metadata="https://mcp.example/prm"',
        },
      }),
    );
    expect(parsed).toEqual({
      error: 'insufficient_scope',
      scope: ['mcp:read', 'mcp:write'],
      resourceMetadata: 'https://mcp.example/prm',
    });
  });

  it('refuses a WWW-Authenticate header that cannot be parsed with INVALID_CHALLENGE', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    mcp.rewriteChallenge(() => `Bearer resource_metadata="${mcp.metadataUrl}, scope=${CANARY}`);
    const { error, guard, events } = await signInFails(mcp.url);
    expectRefused(error, 'INVALID_CHALLENGE', guard, events);
    expect(as.requests()).toEqual([]);
    expect(mcp.requests().map((r) => r.path)).toEqual(['/mcp']);
  });

  it('looks for resource metadata at the path-specific well-known URL, then at the root (#2)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({
      authorizationServers: [as.issuer],
      challengeResourceMetadata: false,
      protectedResourceMetadata: { paths: ['/.well-known/oauth-protected-resource'] },
    });
    const { session } = await signIn(mcp.url);
    expect(session.current().metadata.issuer).toBe(as.issuer);
    expect(mcp.requests().map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'POST /mcp 401',
      'GET /.well-known/oauth-protected-resource/mcp 404',
      'GET /.well-known/oauth-protected-resource 200',
    ]);
  });

  it('refuses metadata naming another resource with RESOURCE_MISMATCH before any authorization request (#3)', async () => {
    const as = await realAs();
    const claims: ((url: string, origin: string) => string)[] = [
      () => 'http://127.0.0.1:1/mcp',
      (_url, origin) => `${origin}/other`,
      (url) => `${url}-evil`,
      (url) => `${url}/deeper`,
    ];
    for (const resource of claims) {
      const mcp = await mcpServer({
        authorizationServers: [as.issuer],
        protectedResourceMetadata: { resource },
      });
      const { error, guard, events } = await signInFails(mcp.url);
      expectRefused(error, 'RESOURCE_MISMATCH', guard, events);
    }
    expect(as.requests()).toEqual([]);
  });

  it('accepts resource metadata that names the whole origin (#3)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({
      authorizationServers: [as.issuer],
      protectedResourceMetadata: { resource: (_url, origin) => origin },
    });
    const { session } = await signIn(mcp.url);
    expect(session.current().metadata.issuer).toBe(as.issuer);
    expect((await fetch(mcp.metadataUrl).then((r) => r.json())).resource).toBe(mcp.origin);
  });

  it('finds the metadata of an issuer with a path in the specified order (#4)', async () => {
    const fake = await fakeAs({
      issuerPath: '/t1',
      metadataPaths: (p) => [`${p}/.well-known/openid-configuration`],
    });
    const mcp = await mcpServer({
      authorizationServers: [fake.issuer],
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    const { session } = await signIn(mcp.url);
    expect(session.current().metadata.issuer).toBe(`${fake.issuer}`);
    expect(fake.issuer).toMatch(/\/t1$/);
    expect(
      fake
        .requests()
        .filter((r) => r.method === 'GET' && r.path.includes('.well-known'))
        .map((r) => `${r.path} ${r.status}`),
    ).toEqual([
      '/.well-known/oauth-authorization-server/t1 404',
      '/.well-known/openid-configuration/t1 404',
      '/t1/.well-known/openid-configuration 200',
    ]);
  });

  it('finds the metadata of an issuer without a path: RFC 8414 first, then OpenID (#4)', async () => {
    const fake = await fakeAs({ metadataPaths: () => ['/.well-known/openid-configuration'] });
    const mcp = await mcpServer({
      authorizationServers: [fake.issuer],
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    await signIn(mcp.url);
    expect(
      fake
        .requests()
        .filter((r) => r.path.includes('.well-known'))
        .map((r) => `${r.path} ${r.status}`),
    ).toEqual([
      '/.well-known/oauth-authorization-server 404',
      '/.well-known/openid-configuration 200',
    ]);
  });

  it('refuses authorization server metadata naming another issuer with ISSUER_MISMATCH (#5)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    as.fault({ endpoint: 'discovery', kind: 'wrong-issuer' });
    const { error, guard, events } = await signInFails(mcp.url);
    expectRefused(error, 'ISSUER_MISMATCH', guard, events);
    expect(as.requests().map((r) => r.endpoint)).toEqual(['metadata']);
  });

  it('refreshes through the endpoints kept from the sign-in: later metadata naming another issuer is never read (#5)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    const store = memoryStore();
    const { session, guard } = await signIn(mcp.url, { auth: { store } });
    as.clearRequests();
    // Same origin, another issuer: the 2025-03-26 leniency must not apply to this login.
    as.fault({ endpoint: 'discovery', kind: 'wrong-issuer' });
    await session.refresh();
    // One request: the refresh itself, to the token endpoint the checked metadata named.
    expect(
      as
        .requests()
        .filter((r) => !r.fromResourceServer)
        .map((r) => r.endpoint),
    ).toEqual(['token']);
    expect(session.current().metadata.issuer).toBe(as.issuer);

    // A login stored without kept endpoints (by an earlier release) discovers first, and
    // refuses metadata that names another issuer.
    const key = (await store.list())[0] as string;
    const record = (await store.get(key)) as JsonObject;
    const { endpoints: _kept, ...engine } = record.engine as JsonObject;
    await store.set(key, { ...record, engine });
    const earlier = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store,
      interactive: false,
      fetch: guard.fetch,
    });
    as.clearRequests();
    const error = await earlier.refresh().catch((e: unknown) => e);
    expectRefused(error, 'ISSUER_MISMATCH', guard);
    expect(tokenRequests(as.requests())).toEqual([]);
  });

  it('treats a 2025-03-26 server without resource metadata as its own authorization server (#6)', async () => {
    const fake = await createFakeAuthServer();
    const mcp = await mcpServer({
      protectedResourceMetadata: false,
      fallback: (req, res) => fake.handle(req, res),
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    fake.setOrigin(mcp.origin);
    const { session, user } = await signIn(mcp.url);
    expect(session.current().metadata.issuer).toBe(mcp.origin);
    expect(new URL(user.opened[0] as string).origin).toBe(mcp.origin);
    expect(
      mcp
        .requests()
        .slice(0, 3)
        .map((r) => `${r.path} ${r.status}`),
    ).toEqual([
      '/mcp 401',
      '/.well-known/oauth-protected-resource/mcp 404',
      '/.well-known/oauth-protected-resource 404',
    ]);
    expect(await toolText(await callTool(authorizedFetch(session), mcp.url, 'read-thing'))).toMatch(
      /^read-thing done/,
    );
  });

  it('uses /authorize, /token and /register at the origin when a 2025-03-26 server publishes no metadata (#6)', async () => {
    const fake = await createFakeAuthServer({ metadata: () => undefined });
    const mcp = await mcpServer({
      protectedResourceMetadata: false,
      fallback: (req, res) => fake.handle(req, res),
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    fake.setOrigin(mcp.origin);
    const { session } = await signIn(mcp.url);
    expect(session.current().metadata.issuer).toBe(mcp.origin);
    expect(
      fake
        .requests()
        .filter((r) => r.endpoint !== 'metadata')
        .map((r) => `${r.method} ${r.path} ${r.status}`),
    ).toEqual(['POST /register 201', 'GET /authorize 302', 'POST /token 200']);
    await session.refresh();
    expect(tokenRequests(fake.requests(), 'refresh_token')).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------
describe('client identity (requirements 7-10)', () => {
  it('prefers a pre-registered client, then a client ID metadata document, then registration (#7)', async () => {
    const documentUrl = 'https://client.example/latchkey.json';
    const fake = await fakeAs({
      clients: [{ clientId: 'pre-registered' }, { clientId: documentUrl }],
      metadata: (m) => ({ ...m, client_id_metadata_document_supported: true }),
    });
    const mcp = await mcpServer({
      authorizationServers: [fake.issuer],
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    const pre = await signIn(mcp.url, {
      provider: { client: { clientId: 'pre-registered' }, clientMetadataUrl: documentUrl },
    });
    expect(new URL(pre.user.opened[0] as string).searchParams.get('client_id')).toBe(
      'pre-registered',
    );
    const cimd = await signIn(mcp.url, { provider: { clientMetadataUrl: documentUrl } });
    expect(new URL(cimd.user.opened[0] as string).searchParams.get('client_id')).toBe(documentUrl);
    expect(cimd.events).toContainEqual(
      expect.objectContaining({ type: 'client_registered', method: 'metadata-document' }),
    );
    expect(fake.requests().filter((r) => r.endpoint === 'registration')).toEqual([]);

    // Without the server's support for metadata documents, registration is used.
    const plain = await fakeAs();
    const mcp2 = await mcpServer({
      authorizationServers: [plain.issuer],
      verifyAccessToken: (t) => plain.verifyAccessToken(t),
    });
    const dcr = await signIn(mcp2.url, { provider: { clientMetadataUrl: documentUrl } });
    const registered = plain.requests().filter((r) => r.endpoint === 'registration');
    expect(registered).toHaveLength(1);
    expect(new URL(dcr.user.opened[0] as string).searchParams.get('client_id')).toBe(
      registered[0]?.clientId,
    );
  });

  it('gives up with REGISTRATION_FAILED when no way to identify the client exists (#7)', async () => {
    const fake = await fakeAs({
      metadata: ({ registration_endpoint: _none, ...m }) => m,
    });
    const mcp = await mcpServer({ authorizationServers: [fake.issuer] });
    const { error, guard, events } = await signInFails(mcp.url);
    expectRefused(error, 'REGISTRATION_FAILED', guard, events);
    expect(authorizations(fake.requests())).toBe(0);
  });

  it('registers as a native public client for the loopback redirect it listens on (#8, #16)', async () => {
    const fake = await fakeAs();
    const mcp = await mcpServer({
      authorizationServers: [fake.issuer],
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    const { user } = await signIn(mcp.url, { provider: { clientName: 'Story client' } });
    const registration = fake.requests().find((r) => r.endpoint === 'registration');
    const redirectUri = new URL(user.opened[0] as string).searchParams.get('redirect_uri');
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(registration?.registration).toEqual({
      client_name: 'Story client',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    });
    // The callback reached the listener on that very address.
    expect((await user.outcomes[0])?.finalUrl.startsWith(`${redirectUri}?`)).toBe(true);
  });

  it('honours a fixed redirect port and path (#16)', async () => {
    const fake = await fakeAs();
    const mcp = await mcpServer({
      authorizationServers: [fake.issuer],
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    const port = await freePort();
    const { user } = await signIn(mcp.url, { provider: { redirect: { port, path: '/mcp/cb' } } });
    expect(new URL(user.opened[0] as string).searchParams.get('redirect_uri')).toBe(
      `http://127.0.0.1:${port}/mcp/cb`,
    );
  });

  // The listener takes a new port for every sign-in; the authorization server must
  // accept any loopback port (RFC 8252 §7.3), so one registration serves them all.
  it('reuses its registration for a later sign-in on another loopback port (#8, #16)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    const { session } = await signIn(mcp.url);
    expect(as.registeredClients()).toHaveLength(1);
    const response = await callTool(authorizedFetch(session), mcp.url, 'write-thing');
    expect(response.status).toBe(200);
    expect(authorizations(as.requests())).toBe(2);
    expect(as.registeredClients()).toHaveLength(1);
  });

  it('keeps registrations and tokens per authorization server and never mixes them (#9)', async () => {
    const as1 = await realAs();
    const as2 = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as1.issuer] });
    // A fixed port, so that the registration at each server can be reused.
    const port = await freePort();
    const { session } = await signIn(mcp.url, { provider: { redirect: { port } } });
    const fetchMcp = authorizedFetch(session);
    const tokensOf = (as: McpAuthServer) => as.issuedTokens();

    mcp.moveTo(as2.issuer);
    expect((await callTool(fetchMcp, mcp.url, 'read-thing')).status).toBe(200);
    mcp.moveTo(as1.issuer);
    expect((await callTool(fetchMcp, mcp.url, 'read-thing')).status).toBe(200);
    expect(session.current().metadata.issuer).toBe(as1.issuer);

    // One registration at each server; the second visit to the first one reused it.
    expect(as1.registeredClients()).toHaveLength(1);
    expect(as2.registeredClients()).toHaveLength(1);
    expect(authorizations(as1.requests())).toBe(2);
    for (const [here, other] of [
      [as1, as2],
      [as2, as1],
    ] as const) {
      for (const request of here.requests()) {
        if (request.clientId) expect(other.registeredClients()).not.toContain(request.clientId);
        for (const presented of request.presentedTokens) {
          expect(tokensOf(other).has(presented)).toBe(false);
        }
      }
    }
  });

  it('chooses the token endpoint authentication method from the server metadata (#10)', async () => {
    const secret = CANARY;
    const cases: [string[] | undefined, string][] = [
      [['client_secret_post'], 'client_secret_post'],
      [['client_secret_basic', 'client_secret_post'], 'client_secret_basic'],
      [undefined, 'client_secret_basic'],
    ];
    for (const [methods, expected] of cases) {
      const fake = await fakeAs({
        clients: [{ clientId: 'confidential', clientSecret: secret }],
        metadata: ({ token_endpoint_auth_methods_supported: _all, ...m }) =>
          methods ? { ...m, token_endpoint_auth_methods_supported: methods } : m,
      });
      const mcp = await mcpServer({
        authorizationServers: [fake.issuer],
        verifyAccessToken: (t) => fake.verifyAccessToken(t),
      });
      const { session, guard, events } = await signIn(mcp.url, {
        provider: { client: { clientId: 'confidential', clientSecret: secret } },
      });
      await session.refresh();
      expect(tokenRequests(fake.requests()).map((r) => r.clientAuth)).toEqual([expected, expected]);
      expect(leaks(guard, session, events)).toEqual([]);
    }

    // A public client sends only its id; a registration that came with a secret uses
    // the method it was registered with.
    const fake = await fakeAs({
      registrationResponse: (c) => ({
        ...c,
        client_secret: CANARY,
        token_endpoint_auth_method: 'client_secret_post',
      }),
    });
    const mcp = await mcpServer({
      authorizationServers: [fake.issuer],
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    await signIn(mcp.url);
    expect(tokenRequests(fake.requests()).map((r) => r.clientAuth)).toEqual(['client_secret_post']);
    const pub = await fakeAs({ clients: [{ clientId: 'public' }] });
    const mcp2 = await mcpServer({
      authorizationServers: [pub.issuer],
      verifyAccessToken: (t) => pub.verifyAccessToken(t),
    });
    await signIn(mcp2.url, { provider: { client: { clientId: 'public' } } });
    expect(tokenRequests(pub.requests()).map((r) => [r.clientAuth, r.clientId])).toEqual([
      ['none', 'public'],
    ]);
  });
});

// ---------------------------------------------------------------------------------
describe('authorization request (requirements 11-16)', () => {
  it('refuses a server that does not offer PKCE with S256 with PKCE_UNSUPPORTED (#11)', async () => {
    for (const methods of [undefined, ['plain']]) {
      const fake = await fakeAs({
        metadata: ({ code_challenge_methods_supported: _s256, ...m }) =>
          methods ? { ...m, code_challenge_methods_supported: methods } : m,
      });
      const mcp = await mcpServer({ authorizationServers: [fake.issuer] });
      const { error, guard, events } = await signInFails(mcp.url);
      expectRefused(error, 'PKCE_UNSUPPORTED', guard, events);
      expect(fake.requests().map((r) => r.endpoint)).toEqual(['metadata']);
    }
  });

  // Default endpoints are for servers without resource metadata only (#6); here S256
  // support cannot be checked, so the sign-in must stop (#11).
  it('refuses to guess endpoints for an authorization server named by resource metadata that publishes no metadata (#6, #11)', async () => {
    const fake = await fakeAs({ metadata: () => undefined });
    const mcp = await mcpServer({
      authorizationServers: [fake.issuer],
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    const { error, guard, events } = await signInFails(mcp.url);
    expect(isLatchkeyError(error)).toBe(true);
    expectRefused(error, (error as { code: LatchkeyErrorCode }).code, guard, events);
    expect(authorizations(fake.requests())).toBe(0);
  });

  it('ignores a callback with another state and times out with AUTH_TIMEOUT (#12)', async () => {
    const fake = await fakeAs({
      authorizationResponse: (response) => {
        response.set('state', 'forged-state');
        response.set('code', CANARY);
      },
    });
    const mcp = await mcpServer({ authorizationServers: [fake.issuer] });
    const { error, guard, events, user } = await signInFails(mcp.url, {
      auth: { timeoutMs: 2000 },
    });
    expectRefused(error, 'AUTH_TIMEOUT', guard, events);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'callback_rejected', reason: 'STATE_MISMATCH' }),
    );
    expect((await user.outcomes[0])?.status).toBe(400);
    expect(tokenRequests(fake.requests())).toEqual([]);
  });

  it('rejects a callback whose state does not match with STATE_MISMATCH (#12)', async () => {
    const provider = mcpAuthProvider('https://mcp.example/mcp');
    const as = {
      issuer: 'https://as.example',
      authorization_endpoint: 'https://as.example/authorize',
      token_endpoint: 'https://as.example/token',
    };
    const context = createOAuthContext(
      provider,
      as,
      {
        clientId: 'c',
        clientAuthentication: { method: 'none' },
        scopes: [],
        scopeSeparator: ' ',
        redirect: { port: 0, path: '/callback' },
      },
      { fetch, allowHttpLoopback: false },
    );
    const request = await createAuthorizationRequest(context, {
      redirectUri: 'http://127.0.0.1:5000/callback',
    });
    const callback = new URL(`http://127.0.0.1:5000/callback?code=${CANARY}&state=other`);
    const error = (() => {
      try {
        validateCallback(context, request, callback);
      } catch (e) {
        return e;
      }
    })();
    expect(isLatchkeyError(error, 'STATE_MISMATCH')).toBe(true);
    expect(String((error as Error).message)).not.toContain(CANARY);
  });

  it('rejects a callback from another issuer without acting on its error, with ISSUER_MISMATCH (#13)', async () => {
    const fake = await fakeAs({
      authorizationResponse: (response) => {
        response.delete('code');
        response.set('error', 'access_denied');
        response.set('error_description', CANARY);
        response.set('iss', 'http://127.0.0.1:1/evil');
      },
    });
    const mcp = await mcpServer({ authorizationServers: [fake.issuer] });
    const { error, guard, events } = await signInFails(mcp.url);
    expectRefused(error, 'ISSUER_MISMATCH', guard, events);
    expect(tokenRequests(fake.requests())).toEqual([]);
  });

  it('rejects a callback without iss from a server that promised it, with ISSUER_MISMATCH (#13)', async () => {
    const fake = await fakeAs({
      authorizationResponse: (response) => {
        response.delete('iss');
        response.set('code', CANARY);
      },
    });
    const mcp = await mcpServer({ authorizationServers: [fake.issuer] });
    const { error, guard, events } = await signInFails(mcp.url);
    expectRefused(error, 'ISSUER_MISMATCH', guard, events);
    expect(tokenRequests(fake.requests())).toEqual([]);

    // A server that does not promise iss may leave it out.
    const quiet = await fakeAs({
      metadata: ({ authorization_response_iss_parameter_supported: _yes, ...m }) => m,
      authorizationResponse: (response) => response.delete('iss'),
    });
    const mcp2 = await mcpServer({
      authorizationServers: [quiet.issuer],
      verifyAccessToken: (t) => quiet.verifyAccessToken(t),
    });
    const { session } = await signIn(mcp2.url);
    expect(session.current().metadata.issuer).toBe(quiet.issuer);
  });

  it('sends the canonical server URI as resource in the authorization, token and refresh requests (#14)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer], path: '/' });
    expect(mcp.url).toBe(mcp.origin);
    // Given with a trailing slash: the resource is the origin without one.
    const { session, user } = await signIn(`${mcp.origin}/`);
    await session.refresh();
    const sent = [
      new URL(user.opened[0] as string).searchParams.getAll('resource'),
      ...as
        .requests()
        .filter((r) => r.endpoint === 'token')
        .map((r) => r.resource),
    ];
    expect(sent).toEqual([[mcp.origin], [mcp.origin], [mcp.origin]]);
    expect(
      as
        .requests()
        .filter((r) => r.endpoint === 'token')
        .map((r) => r.grantType),
    ).toEqual(['authorization_code', 'refresh_token']);
    expect((await callTool(authorizedFetch(session), mcp.url, 'read-thing')).status).toBe(200);

    expect(canonicalResource('HTTP://127.0.0.1:8080/mcp#part')).toBe('http://127.0.0.1:8080/mcp');
    expect(canonicalResource('https://mcp.example/')).toBe('https://mcp.example');
    expect(() => mcpAuthProvider('https://mcp.example/mcp#fragment')).toThrow(
      expect.objectContaining({ code: 'PROVIDER_CONFIG' }),
    );
  });

  it("sends the resource metadata's resource byte for byte in the authorization, token and refresh requests (#14)", async () => {
    // An origin-level resource without a path, and one with a trailing slash: each as published.
    for (const published of [
      (_url: string, origin: string) => origin,
      (_url: string, origin: string) => `${origin}/`,
    ]) {
      const as = await realAs();
      const mcp = await mcpServer({
        authorizationServers: [as.issuer],
        protectedResourceMetadata: { resource: published },
      });
      const resource = published(mcp.url, mcp.origin);
      const { session, user } = await signIn(mcp.url);
      await session.refresh();
      const sent = [
        new URL(user.opened[0] as string).searchParams.getAll('resource'),
        ...tokenRequests(as.requests()).map((r) => r.resource),
      ];
      expect(sent).toEqual([[resource], [resource], [resource]]);
      expect(session.current().engine).toMatchObject({ kind: 'mcp', resource });
      expect((await callTool(authorizedFetch(session), mcp.url, 'read-thing')).status).toBe(200);
    }
  });

  it('takes the scope from the challenge, else the resource metadata, else none; offline_access only when listed (#15)', async () => {
    const scopeOf = (user: { opened: string[] }) =>
      new URL(user.opened[0] as string).searchParams.get('scope');
    const cases: {
      challengeScope: boolean;
      scopesSupported: string[] | null;
      offline: boolean;
      expected: string | null;
    }[] = [
      {
        challengeScope: true,
        scopesSupported: ['mcp:read', 'mcp:write'],
        offline: true,
        expected: 'mcp:read offline_access',
      },
      {
        challengeScope: false,
        scopesSupported: ['mcp:read', 'mcp:write'],
        offline: true,
        expected: 'mcp:read mcp:write offline_access',
      },
      {
        challengeScope: false,
        scopesSupported: ['mcp:read', 'mcp:write'],
        offline: false,
        expected: 'mcp:read mcp:write',
      },
      { challengeScope: true, scopesSupported: null, offline: false, expected: 'mcp:read' },
      { challengeScope: false, scopesSupported: null, offline: false, expected: null },
    ];
    for (const c of cases) {
      const fake = await fakeAs({
        metadata: (m) => ({
          ...m,
          scopes_supported: c.offline
            ? ['mcp:read', 'mcp:write', 'offline_access']
            : ['mcp:read', 'mcp:write'],
        }),
      });
      const mcp = await mcpServer({
        authorizationServers: [fake.issuer],
        challengeScope: c.challengeScope,
        protectedResourceMetadata: { scopesSupported: c.scopesSupported },
        verifyAccessToken: (t) => fake.verifyAccessToken(t),
      });
      const { user } = await signIn(mcp.url);
      expect(scopeOf(user), JSON.stringify(c)).toBe(c.expected);
    }
  });
});

// ---------------------------------------------------------------------------------
describe('tokens (requirements 17-20)', () => {
  it('sends the token in the Authorization header only, never in the URL (#17)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    const { session } = await signIn(mcp.url);
    const response = await callTool(authorizedFetch(session), `${mcp.url}?page=1`, 'read-thing');
    expect(response.status).toBe(200);
    // The query is kept as it was, nothing is added to it; the token is in the header.
    const token = tokenHash(session.current().accessToken.reveal());
    const calls = mcp.requests().filter((r) => r.tool === 'read-thing');
    expect(calls.map((r) => [r.token, r.tokenInQuery, r.queryKeys])).toEqual([
      [token, false, ['page']],
    ]);
    expect(as.requests().some((r) => r.tokenInQuery)).toBe(false);
  });

  it('records an absolute expiry from expires_in (#18)', async () => {
    const as = await realAs({ accessTokenTtl: 120 });
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    const { session } = await signIn(mcp.url);
    const { expiresAt, obtainedAt } = session.current();
    expect((expiresAt as number) - obtainedAt).toBe(120_000);
  });

  it('refreshes once for two processes sharing a store, although refresh tokens rotate (#18)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-mcp-processes-'));
    track({ close: () => rm(dir, { recursive: true, force: true }) });
    const provider = mcpAuthProvider(mcp.url, { allowHttpLoopback: true });
    const user = unattendedUser();
    // Two store objects on one directory lock each other through files, as two processes do.
    const one = await authenticate(provider, {
      store: fileStore({ directory: dir }),
      openUrl: user.openUrl,
      timeoutMs: 10_000,
    });
    const two = await authenticate(provider, {
      store: fileStore({ directory: dir }),
      openUrl: () => {
        throw new Error('the stored login should have been used');
      },
      timeoutMs: 10_000,
    });
    as.clearRequests();
    const [a, b] = await Promise.all([
      one.fresh({ minValidityMs: 7_200_000 }),
      two.fresh({ minValidityMs: 7_200_000 }),
    ]);
    expect(tokenRequests(as.requests(), 'refresh_token').map((r) => r.status)).toEqual([200]);
    expect(a.accessToken.reveal()).toBe(b.accessToken.reveal());
    const response = await callTool(authorizedFetch(two), mcp.url, 'read-thing');
    expect(response.status).toBe(200);
  });

  it('signs in again when the refresh fails with invalid_grant, once, without looping (#19)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    const { session, guard, events } = await signIn(mcp.url);
    const before = session.current();
    await as.revokeGrantsFor('alice');
    mcp.revokeTokens(as.issuedTokens());
    as.clearRequests();
    const response = await callTool(
      authorizedFetch(session, { fetch: guard.fetch }),
      mcp.url,
      'read-thing',
    );
    expect(response.status).toBe(200);
    expect(tokenRequests(as.requests(), 'refresh_token').map((r) => r.status)).toEqual([400]);
    expect(authorizations(as.requests())).toBe(1);
    expect(session.current().accessToken.reveal()).not.toBe(before.accessToken.reveal());
    expect(leaks(guard, session, events)).toEqual([]);

    // When that sign-in fails too, the error comes out; nothing is retried.
    const { session: second } = await signIn(mcp.url, { guard });
    await as.revokeGrantsFor('alice');
    mcp.revokeTokens(as.issuedTokens());
    as.clearRequests();
    as.setInteraction('deny');
    const error = await callTool(
      authorizedFetch(second, { fetch: guard.fetch }),
      mcp.url,
      'read-thing',
    ).catch((e: unknown) => e);
    as.setInteraction('auto');
    expectRefused(error, 'AUTH_DENIED', guard);
    expect(tokenRequests(as.requests(), 'refresh_token')).toHaveLength(1);
    expect(authorizations(as.requests())).toBe(1);
  });

  it('signs in again when a refresh ahead of expiry fails with invalid_grant (#19)', async () => {
    const as = await realAs({ accessTokenTtl: 2 });
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    const { session, guard } = await signIn(mcp.url);
    await as.revokeGrantsFor('alice');
    // Less than half of the lifetime left: the next request refreshes first.
    const { obtainedAt, expiresAt } = session.current();
    await new Promise((r) =>
      setTimeout(r, (obtainedAt + (expiresAt as number)) / 2 + 100 - Date.now()),
    );
    as.clearRequests();
    const result = await callTool(
      authorizedFetch(session, { fetch: guard.fetch }),
      mcp.url,
      'read-thing',
    ).catch((e: unknown) => e);
    expect(result instanceof Response ? result.status : String(result)).toBe(200);
    expect(tokenRequests(as.requests(), 'refresh_token')).toHaveLength(1);
    expect(authorizations(as.requests())).toBe(1);
  });

  it('signs in again, never refreshes, when the server issued no refresh token (#15, #19)', async () => {
    const fake = await fakeAs({ refreshTokens: false });
    const mcp = await mcpServer({
      authorizationServers: [fake.issuer],
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    const { session, guard } = await signIn(mcp.url);
    expect(session.current().refreshToken).toBeUndefined();
    mcp.revokeTokens(fake.issuedTokens());
    const response = await callTool(
      authorizedFetch(session, { fetch: guard.fetch }),
      mcp.url,
      'read-thing',
    );
    expect(response.status).toBe(200);
    expect(tokenRequests(fake.requests(), 'refresh_token')).toEqual([]);
    expect(authorizations(fake.requests())).toBe(2);
  });

  it('stops with UNAUTHORIZED_LOOP when the server refuses every token (#19, #20)', async () => {
    // With a refresh token: one refresh, no new sign-in.
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    const { session, guard } = await signIn(mcp.url);
    mcp.refuseEveryToken(true);
    const error = await callTool(
      authorizedFetch(session, { fetch: guard.fetch }),
      mcp.url,
      'read-thing',
    ).catch((e: unknown) => e);
    expectRefused(error, 'UNAUTHORIZED_LOOP', guard);
    expect(authorizations(as.requests())).toBe(1);
    expect(tokenRequests(as.requests(), 'refresh_token')).toHaveLength(1);

    // Without one: one new sign-in, then stop.
    const fake = await fakeAs({ refreshTokens: false });
    const mcp2 = await mcpServer({
      authorizationServers: [fake.issuer],
      verifyAccessToken: (t) => fake.verifyAccessToken(t),
    });
    const second = await signIn(mcp2.url);
    mcp2.refuseEveryToken(true);
    const error2 = await callTool(
      authorizedFetch(second.session, { fetch: second.guard.fetch }),
      mcp2.url,
      'read-thing',
    ).catch((e: unknown) => e);
    expectRefused(error2, 'UNAUTHORIZED_LOOP', second.guard);
    expect(authorizations(fake.requests())).toBeLessThanOrEqual(2);
    expect(mcp2.requests().filter((r) => r.tool === 'read-thing')).toHaveLength(2);
  });

  it('steps up at most three times when the server keeps asking for more scope (#20)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    let asked = 0;
    mcp.setToolScopes('write-thing', () => {
      asked += 1;
      return ['mcp:read', `mcp:more${asked}`];
    });
    const { session, guard, events } = await signIn(mcp.url, {});
    const stepUps: LatchkeyEvent[] = [];
    const error = await callTool(
      authorizedFetch(session, { fetch: guard.fetch, onEvent: (e) => stepUps.push(e) }),
      mcp.url,
      'write-thing',
    ).catch((e: unknown) => e);
    expectRefused(error, 'INSUFFICIENT_SCOPE', guard, events);
    expect(stepUps).toHaveLength(3);
    expect(authorizations(as.requests())).toBe(4);
    expect(tokenRequests(as.requests(), 'refresh_token')).toEqual([]);
  });

  it('stops stepping up when the same challenge comes back after a step-up (#20)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    // The authorization server does not know mcp:admin, so no sign-in can add it.
    mcp.setToolScopes('write-thing', ['mcp:read', 'mcp:admin']);
    const { session, guard } = await signIn(mcp.url);
    const stepUps: LatchkeyEvent[] = [];
    const error = await callTool(
      authorizedFetch(session, { fetch: guard.fetch, onEvent: (e) => stepUps.push(e) }),
      mcp.url,
      'write-thing',
    ).catch((e: unknown) => e);
    expectRefused(error, 'INSUFFICIENT_SCOPE', guard);
    expect(stepUps).toHaveLength(1);
    expect(authorizations(as.requests())).toBe(2);
  });

  it('does not step up for a scope the token already carries (#20)', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    mcp.setToolScopes('write-thing', ['mcp:read', 'mcp:admin']);
    mcp.rewriteChallenge((header, status) =>
      status === 403 ? header.replace('scope="mcp:read mcp:admin"', 'scope="mcp:read"') : header,
    );
    const { session, guard } = await signIn(mcp.url);
    const error = await callTool(
      authorizedFetch(session, { fetch: guard.fetch }),
      mcp.url,
      'write-thing',
    ).catch((e: unknown) => e);
    expectRefused(error, 'INSUFFICIENT_SCOPE', guard);
    expect(authorizations(as.requests())).toBe(1);
  });
});

// ---------------------------------------------------------------------------------
describe('transport security (requirement 21)', () => {
  it('refuses an authorization server on plain http off loopback before any request to it', async () => {
    const mcp = await mcpServer({ authorizationServers: ['http://evil.example/as'] });
    const { error, guard, events } = await signInFails(mcp.url);
    expectRefused(error, 'INSECURE_ENDPOINT', guard, events);
    expect(guard.attempted.every((u) => new URL(u).origin === mcp.origin)).toBe(true);
  });

  it('refuses resource metadata on plain http off loopback before any request to it', async () => {
    const as = await realAs();
    const mcp = await mcpServer({ authorizationServers: [as.issuer] });
    mcp.rewriteChallenge(
      () => 'Bearer resource_metadata="http://evil.example/prm", scope="mcp:read"',
    );
    const { error, guard, events } = await signInFails(mcp.url);
    expectRefused(error, 'INSECURE_ENDPOINT', guard, events);
    expect(as.requests()).toEqual([]);
  });

  it('refuses plain-http endpoints in the authorization server metadata', async () => {
    for (const field of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint']) {
      const fake = await fakeAs({
        metadata: (m) => ({ ...m, [field]: `http://evil.example/${field}` }),
      });
      const mcp = await mcpServer({ authorizationServers: [fake.issuer] });
      const { error, guard, events } = await signInFails(mcp.url);
      expectRefused(error, 'INSECURE_ENDPOINT', guard, events);
      expect(authorizations(fake.requests())).toBe(0);
    }
  });

  it('needs the development switch for plain http on loopback, and refuses it elsewhere', async () => {
    expect(() => mcpAuthProvider('http://127.0.0.1:8080/mcp')).toThrow(
      expect.objectContaining({ code: 'PROVIDER_CONFIG' }),
    );
    expect(() => mcpAuthProvider('http://mcp.example/mcp', { allowHttpLoopback: true })).toThrow(
      expect.objectContaining({ code: 'PROVIDER_CONFIG' }),
    );
    expect(() => mcpAuthProvider('https://mcp.example/mcp')).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------
describe('client credentials (machine to machine)', () => {
  it('uses client_secret_basic with the resource, and no browser', async () => {
    const fake = await fakeAs({ clients: [{ clientId: 'robot', clientSecret: CANARY }] });
    const mcp = await mcpServer({ authorizationServers: [fake.issuer] });
    const { session, guard, events } = await signIn(mcp.url, {
      provider: { clientCredentials: { clientId: 'robot', clientSecret: CANARY } },
      auth: {
        openUrl: () => {
          throw new Error('no browser for machine grants');
        },
      },
    });
    const [grant] = tokenRequests(fake.requests());
    expect(grant).toMatchObject({
      grantType: 'client_credentials',
      clientAuth: 'client_secret_basic',
      clientId: 'robot',
      resource: [mcp.url],
      scope: 'mcp:read',
    });
    expect(authorizations(fake.requests())).toBe(0);
    expect(await toolText(await callTool(authorizedFetch(session), mcp.url, 'read-thing'))).toBe(
      'read-thing done for robot',
    );
    expect(leaks(guard, session, events)).toEqual([]);
  });

  it('uses private_key_jwt with an assertion for the issuer, signed by the client key', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const publicJwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
    const fake = await fakeAs({ clients: [{ clientId: 'robot-key', publicJwk }] });
    const mcp = await mcpServer({ authorizationServers: [fake.issuer] });
    const { session } = await signIn(mcp.url, {
      provider: { clientCredentials: { clientId: 'robot-key', privateKey: pair.privateKey } },
    });
    const [grant] = tokenRequests(fake.requests());
    expect(grant?.clientAuth).toBe('private_key_jwt');
    expect(grant?.resource).toEqual([mcp.url]);
    expect(grant?.assertion?.signatureValid).toBe(true);
    expect(grant?.assertion?.header.alg).toBe('ES256');
    const claims = grant?.assertion?.claims ?? {};
    expect(claims.iss).toBe('robot-key');
    expect(claims.sub).toBe('robot-key');
    expect([claims.aud].flat()).toContain(fake.issuer);
    expect(typeof claims.jti).toBe('string');
    expect(Number(claims.exp)).toBeGreaterThan(Date.now() / 1000);
    expect((await callTool(authorizedFetch(session), mcp.url, 'read-thing')).status).toBe(200);

    // The same assertion signed by another key is refused by the server.
    const other = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
    ])) as CryptoKeyPair;
    const { error } = await signInFails(mcp.url, {
      provider: { clientCredentials: { clientId: 'robot-key', privateKey: other.privateKey } },
    });
    expect(isLatchkeyError(error)).toBe(true);
    expect(tokenRequests(fake.requests()).at(-1)?.assertion?.signatureValid).toBe(false);
  });
});
