// The whole life of an MCP login against real servers: oidc-provider as the
// authorization server (dynamic registration, JWT access tokens for the MCP server as
// RFC 8707 resource) and an MCP SDK server guarded by the SDK's bearer middleware.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AuthServerRequest,
  type McpAuthServer,
  type McpServerRequest,
  startMcpAuthServer,
  startMcpServer,
  type TestMcpServer,
  tokenHash,
} from '@latchkey/testkit';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialKey, mcpAccountName } from '../src/credentials.js';
import {
  authenticate,
  authorizedFetch,
  fileStore,
  type LatchkeyEvent,
  mcpAuthProvider,
  type Session,
} from '../src/index.js';
import { registrationKey } from '../src/strategies/mcp/registration.js';
import { canaryWatch, unattendedUser } from './helpers.js';

// Short enough to see a refresh ahead of expiry within the test, long enough that the
// "process restart" right after a sign-in finds the token still fresh.
const TTL_SECONDS = 10;

let as1: McpAuthServer;
let as2: McpAuthServer;
let mcp: TestMcpServer;
let dir: string;
const clients: Client[] = [];

beforeAll(async () => {
  as1 = await startMcpAuthServer({ accessTokenTtl: TTL_SECONDS });
  as2 = await startMcpAuthServer({ accessTokenTtl: 600 });
  mcp = await startMcpServer({ authorizationServers: [as1.issuer] });
  dir = await mkdtemp(join(tmpdir(), 'latchkey-mcp-story-'));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await Promise.all([as1?.close(), as2?.close(), mcp?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What the client under test sent (the MCP server's own key fetches left out). */
function fromClient(as: McpAuthServer): AuthServerRequest[] {
  return as.requests().filter((r) => !r.fromResourceServer);
}

function count(
  requests: AuthServerRequest[],
  endpoint: AuthServerRequest['endpoint'],
  grant?: string,
) {
  return requests.filter((r) => r.endpoint === endpoint && (!grant || r.grantType === grant))
    .length;
}

async function connect(session: Session, onEvent?: (e: LatchkeyEvent) => void): Promise<Client> {
  const client = new Client({ name: 'latchkey-story', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcp.url), {
      fetch: authorizedFetch(session, onEvent ? { onEvent } : {}),
    }),
  );
  clients.push(client);
  return client;
}

function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
}

function sleepUntil(epochMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now())));
}

describe('MCP authorization, start to end', () => {
  it('signs in on the first 401, steps up, survives a restart, refreshes ahead of expiry, follows the server to a new authorization server, and logs out', async () => {
    const watch = canaryWatch();
    const provider = mcpAuthProvider(mcp.url, { allowHttpLoopback: true });
    const user = unattendedUser();

    // 1. First connection: the probe's 401 starts discovery, registration and sign-in.
    const session = await authenticate(provider, {
      store: fileStore({ directory: dir }),
      openUrl: user.openUrl,
      fetch: watch.fetch,
      onEvent: watch.onEvent,
      timeoutMs: 20_000,
    });
    const first = session.current();
    expect(first.metadata.issuer).toBe(as1.issuer);
    // The login is named for people, and its engine state names the server and client.
    expect(first.account).toBe(new URL(as1.issuer).host);
    expect(first.engine).toMatchObject({ kind: 'mcp', issuer: as1.issuer, resource: mcp.url });
    expect(first.scopes).toContain('mcp:read');
    expect(first.scopes).not.toContain('mcp:write');
    expect(first.refreshToken).toBeDefined();
    const probe = mcp.requests()[0] as McpServerRequest;
    expect(probe).toMatchObject({ method: 'POST', path: '/mcp', status: 401 });
    expect(probe.token).toBeUndefined();
    expect(mcp.requests()[1]).toMatchObject({
      method: 'GET',
      path: '/.well-known/oauth-protected-resource/mcp',
      status: 200,
    });

    const signIn = fromClient(as1);
    expect(signIn[0]).toMatchObject({
      endpoint: 'metadata',
      path: '/.well-known/oauth-authorization-server',
    });
    expect(count(signIn, 'registration')).toBe(1);
    expect(count(signIn, 'authorization')).toBe(1);
    expect(count(signIn, 'token', 'authorization_code')).toBe(1);
    const registration = signIn.find((r) => r.endpoint === 'registration');
    const clientId1 = as1.registeredClients()[0] as string;
    expect(registration?.registration).toMatchObject({
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const authorization = new URL(user.opened[0] as string);
    expect(authorization.origin).toBe(as1.issuer);
    expect(authorization.searchParams.get('client_id')).toBe(clientId1);
    expect(authorization.searchParams.get('resource')).toBe(mcp.url);
    expect(authorization.searchParams.get('scope')).toBe('mcp:read offline_access');
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(watch.events.map((e) => e.type)).toEqual([
      'resource_metadata_discovered',
      'discovery_completed',
      'client_registered',
      'authorization_url_opened',
      'waiting_for_callback',
      'callback_received',
      'login_completed',
    ]);

    // 2. The MCP client talks through authorizedFetch; the read tool works at once.
    const client = await connect(session, watch.onEvent);
    expect(text(await client.callTool({ name: 'read-thing' }))).toBe(
      `read-thing done for ${clientId1}`,
    );
    expect(count(fromClient(as1), 'authorization')).toBe(1);

    // 3. Step-up: the write tool answers 403 insufficient_scope; one new sign-in asks
    // for the union of the scopes, and the call then succeeds.
    mcp.clearRequests();
    as1.clearRequests();
    expect(text(await client.callTool({ name: 'write-thing' }))).toMatch(/^write-thing done/);
    expect(watch.events.filter((e) => e.type === 'step_up_requested')).toEqual([
      expect.objectContaining({ scopes: ['mcp:read', 'mcp:write'] }),
    ]);
    const stepUp = new URL(user.opened[1] as string);
    expect(stepUp.searchParams.get('scope')?.split(' ').sort()).toEqual([
      'mcp:read',
      'mcp:write',
      'offline_access',
    ]);
    expect(count(fromClient(as1), 'authorization')).toBe(1);
    expect(count(fromClient(as1), 'token', 'refresh_token')).toBe(0);
    const writes = mcp.requests().filter((r) => r.tool === 'write-thing');
    expect(
      writes.map((r) => [r.status, r.token === tokenHash(first.accessToken.reveal())]),
    ).toEqual([
      [403, true],
      [200, false],
    ]);
    const widened = session.current();
    expect(widened.scopes).toEqual(expect.arrayContaining(['mcp:read', 'mcp:write']));

    // 4. "Process restart": a new store object on the same directory, a new
    // authenticate(), no browser, and not one request to the authorization server.
    as1.clearRequests();
    mcp.clearRequests();
    const restartEvents: string[] = [];
    let browserAllowed = false;
    const restarted = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store: fileStore({ directory: dir }),
      openUrl: (url) => {
        if (!browserAllowed) throw new Error('a browser was opened after the restart');
        user.openUrl(url);
      },
      fetch: watch.fetch,
      onEvent: (e) => {
        restartEvents.push(e.type);
        watch.onEvent(e);
      },
      timeoutMs: 20_000,
    });
    expect(restartEvents).toEqual(['credentials_reused']);
    const client2 = await connect(restarted, watch.onEvent);
    expect(text(await client2.callTool({ name: 'write-thing' }))).toMatch(/^write-thing done/);
    expect(as1.requests()).toEqual([]);
    expect(mcp.requests().every((r) => r.token === tokenHash(widened.accessToken.reveal()))).toBe(
      true,
    );

    // 5. Refresh ahead of expiry: once less than half the lifetime is left, the next
    // calls (three at once) refresh first, once, and the server never sees an expired
    // token or answers 401.
    const before = restarted.current();
    await sleepUntil((before.obtainedAt + (before.expiresAt as number)) / 2 + 200);
    mcp.clearRequests();
    await Promise.all([
      client2.callTool({ name: 'read-thing' }),
      client2.callTool({ name: 'read-thing' }),
      client2.callTool({ name: 'write-thing' }),
    ]);
    const refreshes = fromClient(as1).filter((r) => r.grantType === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.resource).toEqual([mcp.url]);
    expect(refreshes[0]?.presentedTokens).toEqual([tokenHash(before.refreshToken?.reveal() ?? '')]);
    const refreshed = restarted.current();
    expect(refreshed.refreshToken?.reveal()).not.toBe(before.refreshToken?.reveal());
    expect(refreshed.expiresAt).toBeGreaterThan(Date.now() + (TTL_SECONDS - 3) * 1000);
    expect(mcp.requests().map((r) => r.status)).not.toContain(401);
    expect(mcp.requests().every((r) => r.token === tokenHash(refreshed.accessToken.reveal()))).toBe(
      true,
    );
    const storedRecord = await fileStore({ directory: dir }).get(
      credentialKey(provider.id, mcpAccountName(as1.issuer) as string),
    );
    expect(storedRecord?.refreshToken).toBe(refreshed.refreshToken?.reveal());

    // 6. The server moves to another authorization server. The old token is refused;
    // Latchkey registers anew there and signs in, and nothing of the old server (client
    // id, tokens) reaches the new one.
    as1.clearRequests();
    mcp.clearRequests();
    mcp.moveTo(as2.issuer);
    browserAllowed = true;
    expect(text(await client2.callTool({ name: 'read-thing' }))).toMatch(/^read-thing done/);
    const moved = restarted.current();
    expect(moved.metadata.issuer).toBe(as2.issuer);
    expect(fromClient(as1)).toEqual([]);
    const atAs2 = fromClient(as2);
    expect(count(atAs2, 'registration')).toBe(1);
    expect(count(atAs2, 'authorization')).toBe(1);
    expect(count(atAs2, 'token', 'authorization_code')).toBe(1);
    const clientId2 = as2.registeredClients()[0] as string;
    expect(clientId2).not.toBe(clientId1);
    const oldClients = new Set(as1.registeredClients());
    const oldTokens = as1.issuedTokens();
    for (const request of as2.requests()) {
      expect(request.clientId === undefined || !oldClients.has(request.clientId)).toBe(true);
      for (const presented of request.presentedTokens) expect(oldTokens.has(presented)).toBe(false);
    }
    const moveCalls = mcp.requests().filter((r) => r.path === '/mcp');
    expect(moveCalls.map((r) => [r.status, r.token === undefined])).toEqual([
      [401, false], // the old token, refused
      [401, true], // the probe of the new sign-in
      [200, false], // the same call again, with the new token
    ]);
    expect(as2.issuedTokens().has(moveCalls[2]?.token as string)).toBe(true);
    // The old login is kept apart, marked as moved, and a new process resumes the new one.
    const store = fileStore({ directory: dir });
    const oldKey = credentialKey(provider.id, mcpAccountName(as1.issuer) as string);
    const newKey = credentialKey(provider.id, mcpAccountName(as2.issuer) as string);
    expect((await store.list(`credentials/${provider.id}/`)).sort()).toEqual(
      [oldKey, newKey].sort(),
    );
    expect((await store.get(oldKey))?.engine).toMatchObject({
      kind: 'mcp',
      issuer: as1.issuer,
      movedTo: as2.issuer,
    });
    expect((await store.get(newKey))?.engine).not.toHaveProperty('movedTo');
    const resumed = await authenticate(provider, {
      store,
      openUrl: () => {
        throw new Error('a browser was opened although the new login is stored');
      },
    });
    expect(resumed.current().metadata.issuer).toBe(as2.issuer);
    expect(resumed.account).toBe(mcpAccountName(as2.issuer));
    // Registrations are kept per issuer: the one at the first server is still there.
    expect(await store.get(registrationKey(provider.id, as1.issuer))).toMatchObject({
      client_id: as1.registeredClients().at(-1),
    });
    expect(await store.get(registrationKey(provider.id, as2.issuer))).toMatchObject({
      client_id: clientId2,
    });

    // 7. Logout revokes at the authorization server that issued the tokens, and only there.
    as1.clearRequests();
    as2.clearRequests();
    expect(await restarted.logout()).toEqual({ revoked: true });
    expect(count(fromClient(as2), 'revocation')).toBe(1);
    expect(fromClient(as2).find((r) => r.endpoint === 'revocation')?.clientId).toBe(clientId2);
    expect(fromClient(as1)).toEqual([]);
    expect(await store.list('credentials/')).toEqual([oldKey]);
    // The old login, asked for by its account, is revoked at its own server only.
    const old = await authenticate(provider, {
      store,
      account: mcpAccountName(as1.issuer) as string,
      interactive: false,
    });
    as1.clearRequests();
    as2.clearRequests();
    expect(await old.logout()).toEqual({ revoked: true });
    expect(count(fromClient(as1), 'revocation')).toBe(1);
    expect(fromClient(as2)).toEqual([]);
    expect(await store.list('credentials/')).toEqual([]);

    // Over the whole story: bearer tokens only in the Authorization header, and no
    // token in any event or error.
    expect(mcp.requests().some((r) => r.tokenInQuery)).toBe(false);
    expect([...as1.requests(), ...as2.requests()].some((r) => r.tokenInQuery)).toBe(false);
    expect(watch.tokens.size).toBeGreaterThan(0);
    expect(watch.leaks()).toEqual([]);
  });
});
