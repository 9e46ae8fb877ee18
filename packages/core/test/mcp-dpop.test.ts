// DPoP (RFC 9449) for MCP logins, against real servers: oidc-provider with its DPoP
// feature as the authorization server, and the testkit's MCP server checking every
// proof (signature, htm, htu, ath, jti, nonce, cnf.jkt).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect, promisify } from 'node:util';
import {
  type McpAuthServer,
  startMcpAuthServer,
  startMcpServer,
  type TestMcpServer,
} from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { credentialKey, mcpAccountName } from '../src/credentials.js';
import {
  authenticate,
  type Credentials,
  fileStore,
  isLatchkeyError,
  mcpAuthProvider,
  memoryStore,
  remoteServer,
  type Session,
} from '../src/index.js';
import { launchServer } from '../src/sdk-v1.js';
import { launchServer as launchServerV2 } from '../src/sdk-v2.js';
import type { JsonObject } from '../src/store/types.js';
import { canaryWatch, unattendedUser } from './helpers.js';
import { tsxLoader } from './launch-helpers.js';

const run = promisify(execFile);
const dpopChild = fileURLToPath(new URL('./fixtures/dpop-child.ts', import.meta.url));

const started: { close(): Promise<void> }[] = [];
const launched: { close(): Promise<void> }[] = [];
const dirs: string[] = [];

async function servers(
  auth: Parameters<typeof startMcpAuthServer>[0],
  mcp: Omit<NonNullable<Parameters<typeof startMcpServer>[0]>, 'authorizationServers'>,
): Promise<{ as: McpAuthServer; mcp: TestMcpServer }> {
  const as = await startMcpAuthServer(auth);
  started.push(as);
  const server = await startMcpServer({ ...mcp, authorizationServers: [as.issuer] });
  started.push(server);
  return { as, mcp: server };
}

async function storeDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-dpop-'));
  dirs.push(dir);
  return dir;
}

function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
}

/** The private part of the login's key, which must never be printed. */
function privateKeyPart(credentials: Credentials): string {
  const jwk = JSON.parse(credentials.dpopKey?.reveal() ?? '{}') as { d?: string };
  if (!jwk.d) throw new Error('the login has no DPoP private key');
  return jwk.d;
}

afterEach(async () => {
  await Promise.all(launched.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('DPoP for MCP logins', () => {
  let as: McpAuthServer;
  let mcp: TestMcpServer;
  let dir: string;

  beforeAll(async () => {
    ({ as, mcp } = await servers(
      { dpop: { requireNonce: true } },
      { dpop: 'require', dpopNonce: true },
    ));
    dir = await storeDir();
  });

  it('binds the login to a key of its own, with nonces at both servers, and proves it on every request', async () => {
    const watch = canaryWatch();
    const user = unattendedUser();
    const provider = mcpAuthProvider(mcp.url, { allowHttpLoopback: true });
    const session = await authenticate(provider, {
      store: fileStore({ directory: dir }),
      openUrl: user.openUrl,
      fetch: watch.fetch,
      onEvent: watch.onEvent,
      timeoutMs: 20_000,
    });
    const credentials = session.current();
    expect(credentials.tokenType).toBe('dpop');
    expect(credentials.dpopKey).toBeDefined();

    // The authorization request names the key; the code exchange proves it, once
    // refused for want of the server's nonce and then sent again with it.
    const fromClient = as.requests().filter((r) => !r.fromResourceServer);
    const authorization = fromClient.find((r) => r.endpoint === 'authorization');
    const tokens = fromClient.filter((r) => r.endpoint === 'token');
    const jkt = authorization?.authorizationDpopJkt;
    expect(jkt).toMatch(/^[\w-]{43}$/);
    expect(tokens.map((r) => [r.status, r.dpop?.jkt, r.dpop?.nonce !== undefined])).toEqual([
      [400, jkt, false],
      [200, jkt, true],
    ]);
    expect(tokens[1]?.dpop).toMatchObject({ htm: 'POST', htu: `${as.issuer}/token` });

    // Every MCP request: the DPoP scheme, a proof of that key, a jti never used before.
    mcp.clearRequests();
    const server = await launchServer(remoteServer(mcp.url), session);
    launched.push(server);
    expect(text(await server.client.callTool({ name: 'read-thing' }))).toMatch(/^read-thing done/);
    const requests = mcp.requests().filter((r) => r.path === '/mcp');
    expect(requests.every((r) => r.scheme === 'DPoP' && r.dpopJkt === jkt)).toBe(true);
    expect(new Set(requests.map((r) => r.dpopJti)).size).toBe(requests.length);
    // The first proof had no nonce: refused once with one, and never again.
    expect(requests.map((r) => r.dpopRefusal)).toEqual([
      'use_dpop_nonce',
      ...requests.slice(1).map(() => undefined),
    ]);
    expect(requests.slice(1).some((r) => r.status === 401)).toBe(false);

    // The key is stored with the tokens and shows up nowhere else.
    const record = await fileStore({ directory: dir }).get(
      credentialKey(provider.id, mcpAccountName(as.issuer) as string),
    );
    expect(typeof record?.dpopKey).toBe('string');
    const secretPart = privateKeyPart(credentials);
    for (const printed of [
      JSON.stringify(credentials),
      inspect(credentials, { depth: 10 }),
      JSON.stringify(session),
      JSON.stringify(watch.events),
    ]) {
      expect(printed).not.toContain(secretPart);
    }
    expect(watch.leaks()).toEqual([]);
  });

  it('refreshes and calls from another process with the same binding', async () => {
    // A new store object reads the record from disk, key included, as a new process does.
    const session = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store: fileStore({ directory: dir }),
      openUrl: () => {
        throw new Error('a browser was opened although the DPoP login is stored');
      },
    });
    const before = session.current();
    as.clearRequests();
    const refreshed = await session.refresh();
    expect(refreshed.accessToken.reveal()).not.toBe(before.accessToken.reveal());
    expect(refreshed.tokenType).toBe('dpop');
    expect(refreshed.dpopKey?.reveal()).toBe(before.dpopKey?.reveal());
    const refresh = as.requests().filter((r) => r.endpoint === 'token' && r.status === 200);
    expect(refresh).toHaveLength(1);
    expect(refresh[0]?.grantType).toBe('refresh_token');
    const jkt = refresh[0]?.dpop?.jkt;
    expect(jkt).toBeDefined();

    mcp.clearRequests();
    const server = await launchServerV2(remoteServer(mcp.url), session);
    launched.push(server);
    expect(server.client.getProtocolEra()).toBe('legacy');
    expect(text(await server.client.callTool({ name: 'read-thing' }))).toMatch(/^read-thing done/);
    const requests = mcp.requests().filter((r) => r.path === '/mcp' && r.status === 200);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((r) => r.scheme === 'DPoP' && r.dpopJkt === jkt)).toBe(true);
  });

  it('refreshes and calls from a new process, with the key read from the store', async () => {
    as.clearRequests();
    mcp.clearRequests();
    const { stdout } = await run(
      process.execPath,
      ['--import', tsxLoader, dpopChild, mcp.url, dir],
      {
        timeout: 60_000,
      },
    );
    expect(JSON.parse(stdout.trim().split('\n').at(-1) as string)).toEqual({
      tokenType: 'dpop',
      tools: 2,
    });
    const refresh = as
      .requests()
      .filter((r) => r.grantType === 'refresh_token' && r.status === 200);
    const signIn = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store: fileStore({ directory: dir }),
      interactive: false,
    });
    const jkt = mcp.requests().find((r) => r.status === 200)?.dpopJkt;
    expect(refresh).toHaveLength(1);
    expect(refresh[0]?.dpop?.jkt).toBe(jkt);
    expect(signIn.current().tokenType).toBe('dpop');
    expect(mcp.requests().every((r) => r.scheme === 'DPoP' && r.dpopJkt === jkt)).toBe(true);
  });

  it('sends a request again once when the MCP server hands out a new nonce', async () => {
    const session = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store: fileStore({ directory: dir }),
      interactive: false,
    });
    const server = await launchServer(remoteServer(mcp.url), session);
    launched.push(server);
    await server.client.callTool({ name: 'read-thing' });
    mcp.rotateNonce();
    mcp.clearRequests();
    expect(text(await server.client.callTool({ name: 'read-thing' }))).toMatch(/^read-thing done/);
    expect(mcp.requests().map((r) => [r.status, r.dpopRefusal])).toEqual([
      [401, 'use_dpop_nonce'],
      [200, undefined],
    ]);
  });

  it('sends a fresh proof once when the MCP server refuses one as replayed', async () => {
    const session = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store: fileStore({ directory: dir }),
      interactive: false,
    });
    // Plays an attacker's replay: the proof of the first POST is sent again with a later one.
    let first: string | undefined;
    let replayed = 0;
    const replaying: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      const proof = headers.get('dpop');
      if (proof && init?.method === 'POST') {
        if (first === undefined) first = proof;
        else if (replayed === 0 && String(init.body).includes('tools/call')) {
          headers.set('dpop', first);
          replayed += 1;
        }
      }
      return fetch(input, { ...init, headers });
    };
    const server = await launchServer(remoteServer(mcp.url), session, { fetch: replaying });
    launched.push(server);
    mcp.clearRequests();
    expect(text(await server.client.callTool({ name: 'read-thing' }))).toMatch(/^read-thing done/);
    expect(replayed).toBe(1);
    // The transport's GET for a stream (405 here) is not part of the call.
    const calls = mcp.requests().filter((r) => r.method === 'POST');
    expect(calls.map((r) => [r.status, r.dpopRefusal])).toEqual([
      [401, 'invalid_dpop_proof'],
      [200, undefined],
    ]);
    // A fresh proof, not a new token: nothing was asked of the authorization server.
    const [refused, accepted] = calls;
    expect(accepted?.token).toBe(refused?.token);
    expect(accepted?.dpopJti).not.toBe(refused?.dpopJti);
  });

  it('retries the token endpoint once on use_dpop_nonce, and stops when it asks again', async () => {
    const session = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store: fileStore({ directory: dir }),
      interactive: false,
    });
    // The nonce the server handed out is kept with the key (once a process has one, its
    // refreshes need no extra round trip); when it runs out, one retry with the new one.
    await session.refresh();
    as.clearRequests();
    await session.refresh();
    expect(
      as
        .requests()
        .filter((r) => r.endpoint === 'token')
        .map((r) => r.status),
    ).toEqual([200]);
    as.clearRequests();
    as.refuseNextDpopNonce();
    await session.refresh();
    const once = as.requests().filter((r) => r.endpoint === 'token');
    expect(once.map((r) => r.status)).toEqual([400, 200]);

    // A server that wants a new nonce on every request: two attempts, then an error.
    let tokenRequests = 0;
    const nonceLoop: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url !== `${as.issuer}/token`) return fetch(input, init);
      tokenRequests += 1;
      return new Response(JSON.stringify({ error: 'use_dpop_nonce' }), {
        status: 400,
        headers: { 'content-type': 'application/json', 'dpop-nonce': `nonce-${tokenRequests}` },
      });
    };
    const looping = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store: fileStore({ directory: dir }),
      interactive: false,
      fetch: nonceLoop,
    });
    const error = await looping.refresh().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(isLatchkeyError(error, 'TOKEN_REQUEST_FAILED'), String(error)).toBe(true);
    expect((error as Error).message).toContain('asked for a new DPoP nonce again');
    expect(tokenRequests).toBe(2);
  });

  it('signs in again, with a new key, when the stored login lost its key', async () => {
    const store = fileStore({ directory: dir });
    const key = (await store.list(`credentials/`)).find((k) => k.includes('127.0.0.1')) as string;
    const record = (await store.get(key)) as JsonObject;
    const { dpopKey: _dropped, ...withoutKey } = record;
    await store.set(key, withoutKey);

    const user = unattendedUser();
    const session = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store,
      openUrl: user.openUrl,
      timeoutMs: 20_000,
    });
    // The stored access token is still fresh, so authenticate() hands the login back as it is.
    expect(session.current().dpopKey).toBeUndefined();
    const refreshError = await session.refresh().catch((e: unknown) => e);
    expect(isLatchkeyError(refreshError, 'REAUTH_REQUIRED')).toBe(true);
    expect((refreshError as Error).message).toContain('DPoP key that is not stored with it');

    const server = await launchServer(remoteServer(mcp.url), session);
    launched.push(server);
    expect(text(await server.client.callTool({ name: 'read-thing' }))).toMatch(/^read-thing done/);
    expect(user.opened).toHaveLength(1);
    expect(session.current().dpopKey).toBeDefined();
    expect(session.current().dpopKey?.reveal()).not.toBe(record.dpopKey);
  });

  it('keeps the binding through a step-up sign-in', async () => {
    const user = unattendedUser();
    const session = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store: memoryStore(),
      openUrl: user.openUrl,
      timeoutMs: 20_000,
    });
    const server = await launchServer(remoteServer(mcp.url), session);
    launched.push(server);
    mcp.clearRequests();
    expect(text(await server.client.callTool({ name: 'write-thing' }))).toMatch(
      /^write-thing done/,
    );
    expect(user.opened).toHaveLength(2);
    expect(session.current().scopes).toContain('mcp:write');
    expect(session.current().tokenType).toBe('dpop');
    // The new login has a new key, which has no nonce of the MCP server yet: one more round trip.
    const calls = mcp.requests().filter((r) => r.tool === 'write-thing');
    expect(calls.map((r) => [r.status, r.scheme, r.dpopRefusal])).toEqual([
      [403, 'DPoP', 'insufficient_scope'],
      [401, 'DPoP', 'use_dpop_nonce'],
      [200, 'DPoP', undefined],
    ]);
    expect(calls[2]?.dpopJkt).not.toBe(calls[0]?.dpopJkt);
  });
});

describe('DPoP policies', () => {
  it('require: DPOP_UNSUPPORTED before any browser opens when the authorization server does not offer it', async () => {
    const { mcp } = await servers({}, {});
    const user = unattendedUser();
    const error = await authenticate(
      mcpAuthProvider(mcp.url, { allowHttpLoopback: true, dpop: 'require' }),
      { store: memoryStore(), openUrl: user.openUrl, timeoutMs: 20_000 },
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'DPOP_UNSUPPORTED')).toBe(true);
    expect((error as Error).message).toContain("dpop: 'require'");
    expect(user.opened).toEqual([]);
  });

  it('refuse: bearer tokens from a server that offers DPoP, accepted where DPoP is optional', async () => {
    const { as, mcp } = await servers({ dpop: {} }, { dpop: 'accept' });
    const session = await authenticate(
      mcpAuthProvider(mcp.url, { allowHttpLoopback: true, dpop: 'refuse' }),
      { store: memoryStore(), openUrl: unattendedUser().openUrl, timeoutMs: 20_000 },
    );
    expect(session.current().tokenType).toBe('bearer');
    expect(session.current().dpopKey).toBeUndefined();
    expect(as.requests().some((r) => r.dpop !== undefined)).toBe(false);
    const server = await launchServer(remoteServer(mcp.url), session);
    launched.push(server);
    expect(text(await server.client.callTool({ name: 'read-thing' }))).toMatch(/^read-thing done/);
    expect(
      mcp
        .requests()
        .filter((r) => r.token)
        .every((r) => r.scheme === 'Bearer'),
    ).toBe(true);
  });

  it('refuse: an authorization server that binds every token says invalid_grant; the error names the option', async () => {
    const { mcp } = await servers({ dpop: { required: true } }, { dpop: 'accept' });
    const error = await authenticate(
      mcpAuthProvider(mcp.url, { allowHttpLoopback: true, dpop: 'refuse' }),
      { store: memoryStore(), openUrl: unattendedUser().openUrl, timeoutMs: 20_000 },
    ).catch((e: unknown) => e);
    // oidc-provider hides why (invalid_grant); Latchkey says what may be wrong.
    expect(isLatchkeyError(error, 'INVALID_GRANT')).toBe(true);
    expect((error as Error).message).toContain("set the provider's dpop option to 'auto'");
  });

  it('refuse: DPOP_REQUIRED from a token endpoint that answers invalid_dpop_proof', async () => {
    const { as, mcp } = await servers({ dpop: {} }, { dpop: 'accept' });
    const strict: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url !== `${as.issuer}/token`) return fetch(input, init);
      return new Response(
        JSON.stringify({ error: 'invalid_dpop_proof', error_description: 'DPoP proof required' }),
        { status: 400, headers: { 'content-type': 'application/json' } },
      );
    };
    const error = await authenticate(
      mcpAuthProvider(mcp.url, { allowHttpLoopback: true, dpop: 'refuse' }),
      {
        store: memoryStore(),
        openUrl: unattendedUser().openUrl,
        timeoutMs: 20_000,
        fetch: strict,
      },
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'DPOP_REQUIRED')).toBe(true);
    expect((error as Error).message).toContain("dpop option to 'auto'");
  });

  it('refuse: DPOP_REQUIRED from an MCP server that accepts only DPoP', async () => {
    const { mcp } = await servers({ dpop: {} }, { dpop: 'require' });
    const session = await authenticate(
      mcpAuthProvider(mcp.url, { allowHttpLoopback: true, dpop: 'refuse' }),
      { store: memoryStore(), openUrl: unattendedUser().openUrl, timeoutMs: 20_000 },
    );
    const error = await launchServer(remoteServer(mcp.url), session).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'DPOP_REQUIRED')).toBe(true);
    expect((error as Error).message).toContain('accepts only DPoP-bound tokens');
  });

  it('never hands a DPoP-bound token to a server started with it', async () => {
    const { mcp } = await servers({ dpop: {} }, { dpop: 'accept' });
    const session: Session = await authenticate(
      mcpAuthProvider(mcp.url, { allowHttpLoopback: true }),
      { store: memoryStore(), openUrl: unattendedUser().openUrl, timeoutMs: 20_000 },
    );
    expect(session.current().tokenType).toBe('dpop');
    const { defineServer } = await import('../src/index.js');
    const stdio = defineServer({
      id: 'takes-a-token',
      transport: { kind: 'stdio', command: process.execPath, args: ['-e', ''] },
      credentials: ['accessToken'],
      inject: (credentials) => ({ env: { TOKEN: credentials.accessToken } }),
    });
    const error = await launchServer(stdio, session).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'MISSING_CREDENTIAL')).toBe(true);
    expect((error as Error).message).toContain('DPoP-bound token');
  });
});

describe('DPoP at the edges', () => {
  it('binds a new login when a stored bearer login meets a server that now takes only DPoP', async () => {
    const { mcp } = await servers({ dpop: {} }, { dpop: 'require' });
    const store = memoryStore();
    // A bearer login, as a release without DPoP (or a refuse policy) stored it.
    await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true, dpop: 'refuse' }), {
      store,
      openUrl: unattendedUser().openUrl,
      timeoutMs: 20_000,
    });
    const user = unattendedUser();
    const session = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store,
      openUrl: user.openUrl,
      timeoutMs: 20_000,
    });
    expect(session.current().tokenType).toBe('bearer');
    const server = await launchServer(remoteServer(mcp.url), session);
    launched.push(server);
    expect(text(await server.client.callTool({ name: 'read-thing' }))).toMatch(/^read-thing done/);
    expect(user.opened).toHaveLength(1);
    expect(session.current().tokenType).toBe('dpop');
  });

  it('follows a same-origin 307 with a proof for the new URL', async () => {
    const redirecting = {
      fallback: (
        req: import('node:http').IncomingMessage,
        res: import('node:http').ServerResponse,
      ) => {
        if (!req.url?.startsWith('/old-mcp')) return false;
        req.resume();
        res.writeHead(307, { location: '/mcp' }).end();
        return true;
      },
    };
    const { mcp } = await servers({ dpop: {} }, { dpop: 'require', ...redirecting });
    const session = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store: memoryStore(),
      openUrl: unattendedUser().openUrl,
      timeoutMs: 20_000,
    });
    mcp.clearRequests();
    const server = await launchServer(remoteServer(`${mcp.origin}/old-mcp`), session);
    launched.push(server);
    expect(text(await server.client.callTool({ name: 'read-thing' }))).toMatch(/^read-thing done/);
    const posts = mcp.requests().filter((r) => r.method === 'POST');
    expect(posts[0]).toMatchObject({ path: '/old-mcp', status: 307 });
    expect(posts[1]).toMatchObject({ path: '/mcp', status: 200, scheme: 'DPoP' });
    expect(posts.some((r) => r.path === '/mcp' && r.dpopRefusal === 'invalid_dpop_proof')).toBe(
      false,
    );
  });

  it('still revokes a DPoP login whose key is lost', async () => {
    const { as, mcp } = await servers({ dpop: {} }, { dpop: 'accept' });
    const store = memoryStore();
    const session = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store,
      openUrl: unattendedUser().openUrl,
      timeoutMs: 20_000,
    });
    const [key] = await store.list('credentials/');
    const { dpopKey: _dropped, ...withoutKey } = (await store.get(key as string)) as JsonObject;
    await store.set(key as string, withoutKey);
    const again = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store,
      interactive: false,
    });
    expect(again.current().dpopKey).toBeUndefined();
    as.clearRequests();
    expect(await again.logout()).toEqual({ revoked: true });
    expect(
      as
        .requests()
        .filter((r) => r.endpoint === 'revocation')
        .map((r) => r.status),
    ).toEqual([200]);
    expect(await store.list('credentials/')).toEqual([]);
    expect(session.current().tokenType).toBe('dpop');
  });
});
