// Web sign-in for many users: startSignIn() on one request (perhaps one instance),
// finishSignIn() from the callback on another, against a real oidc-provider and, for the
// `mcp` strategy, an MCP SDK server with dynamic registration.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  completeAuthorization,
  type McpAuthServer,
  startAuthServer,
  startMcpAuthServer,
  startMcpServer,
  type TestAuthServer,
  type TestMcpServer,
  tokenHash,
} from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accounts,
  authenticate,
  type CredentialStore,
  defineProvider,
  fileStore,
  finishSignIn,
  isLatchkeyError,
  type LatchkeyErrorCode,
  mcpAuthProvider,
  memoryStore,
  startSignIn,
  userStore,
} from '../src/index.js';
import { canaryWatch, testProvider } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/web-sign-in-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** The account the test server's user signs in as. */
const ACCOUNT = 'alice@example.test';

let server: TestAuthServer;
let as: McpAuthServer;
let mcp: TestMcpServer;
let redirectUri: string;

beforeAll(async () => {
  server = await startAuthServer({ accessTokenTtl: 600 });
  as = await startMcpAuthServer({ accessTokenTtl: 600 });
  mcp = await startMcpServer({ authorizationServers: [as.issuer] });
  // A loopback redirect URI for the oauth client (the test server's clients accept any
  // port on 127.0.0.1); nothing listens there: the user agent stops at it.
  redirectUri = 'http://127.0.0.1:9/web/callback';
});
afterAll(async () => {
  await Promise.all([server?.close(), as?.close(), mcp?.close()]);
});

/** The user in the browser: follows the authorization URL to the app's callback. */
async function userApproves(url: string, stopAt = redirectUri): Promise<string> {
  const outcome = await completeAuthorization(url, { stopAt });
  expect(outcome.status).toBe(302);
  return outcome.finalUrl;
}

async function failure(
  promise: Promise<unknown>,
): Promise<{ code: LatchkeyErrorCode; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isLatchkeyError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a LatchkeyError, got a result');
}

/** What a store holds, to show a failed callback changed nothing. */
async function snapshot(store: CredentialStore): Promise<string> {
  const keys = await store.list();
  const entries = await Promise.all(keys.map(async (k) => [k, await store.get(k)] as const));
  return JSON.stringify(entries);
}

describe('startSignIn() and finishSignIn() with the oauth strategy', () => {
  it('signs a user in through the redirect URI, stores the login under the user, and reuses it later', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    const watch = canaryWatch();
    server.resetCounts();
    const started = await startSignIn(provider, {
      store,
      user: 'user-1',
      redirectUri,
      fetch: watch.fetch,
      onEvent: watch.onEvent,
    });
    const url = new URL(started.url);
    expect(url.searchParams.get('redirect_uri')).toBe(redirectUri);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(started.expiresAt).toBeGreaterThan(Date.now() + 9 * 60_000);
    // The pending sign-in lives in the user's part of the store, keyed without the state.
    const pendingKeys = await store.list();
    expect(pendingKeys).toHaveLength(1);
    expect(pendingKeys[0]).toMatch(/^users\/user-1\/signin\//);
    expect(pendingKeys[0]).not.toContain(url.searchParams.get('state'));

    const callback = await userApproves(started.url);
    const session = await finishSignIn(provider, {
      store,
      user: 'user-1',
      callbackUrl: callback,
      fetch: watch.fetch,
      onEvent: watch.onEvent,
    });
    expect(session.account).toBe(ACCOUNT);
    expect(server.counts().token.authorization_code).toBe(1);
    // Used up; only the login is left, under the user.
    expect(await store.list()).toEqual([
      `users/user-1/credentials/test-as/${encodeURIComponent(ACCOUNT)}`,
    ]);
    const listed = await accounts(provider, { store: userStore(store, 'user-1') });
    expect(listed.map((a) => a.account)).toEqual([ACCOUNT]);
    expect(await accounts(provider, { store })).toEqual([]);

    // A later request of the same user gets the session without any interaction.
    const later = await authenticate(provider, {
      store: userStore(store, 'user-1'),
      interactive: false,
      fetch: watch.fetch,
    });
    expect(later.current().accessToken.reveal()).toBe(session.current().accessToken.reveal());
    const refreshed = await later.fresh({ minValidityMs: 3_600_000 });
    expect(refreshed.accessToken.reveal()).not.toBe(session.current().accessToken.reveal());
    watch.record(session);
    expect(watch.tokens.size).toBeGreaterThan(0);
    expect(watch.leaks()).toEqual([]);
  });

  it('finishes from the path and query alone, as a request line gives them', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    const { url } = await startSignIn(provider, { store, user: 'u', redirectUri });
    const callback = new URL(await userApproves(url));
    const session = await finishSignIn(provider, {
      store,
      user: 'u',
      callbackUrl: `${callback.pathname}${callback.search}`,
    });
    expect(session.account).toBe(ACCOUNT);
  });

  it('starts on one instance and finishes on another that shares the store', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'latchkey-web-'));
    try {
      const run = (args: string[]) =>
        new Promise<Record<string, string>>((resolve) => {
          execFile(
            process.execPath,
            ['--import', 'tsx', child, ...args],
            { cwd: root, timeout: 45_000 },
            (_error, stdout) => resolve(JSON.parse(stdout.trim() || '{}')),
          );
        });
      const common = [server.issuer, server.clients.public.clientId, directory];
      const started = await run(['start', ...common, 'user-7', redirectUri]);
      expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1/);
      const callback = await userApproves(started.url as string);
      // Another user's instance cannot finish it, and leaves it pending.
      expect(await run(['finish', ...common, 'user-8', callback])).toMatchObject({
        code: 'STATE_MISMATCH',
      });
      const finished = await run(['finish', ...common, 'user-7', callback]);
      expect(finished).toMatchObject({ account: ACCOUNT });
      // The login is in the store, under user-7 only.
      const store = fileStore({ directory });
      const session = await authenticate(testProvider(server), {
        store: userStore(store, 'user-7'),
        interactive: false,
      });
      expect(tokenHash(session.current().accessToken.reveal())).toBe(finished.token);
      expect(await accounts(testProvider(server), { store: userStore(store, 'user-8') })).toEqual(
        [],
      );
      // A replay on a third instance fails.
      expect(await run(['finish', ...common, 'user-7', callback])).toMatchObject({
        code: 'STATE_MISMATCH',
      });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('keeps two users with the same provider and account name apart', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    const sessions = [];
    for (const user of ['ann', 'bob']) {
      const { url } = await startSignIn(provider, { store, user, redirectUri });
      sessions.push(
        await finishSignIn(provider, { store, user, callbackUrl: await userApproves(url) }),
      );
    }
    const [ann, bob] = sessions as [(typeof sessions)[0], (typeof sessions)[0]];
    expect(ann.account).toBe(ACCOUNT);
    expect(bob.account).toBe(ACCOUNT);
    expect(ann.current().accessToken.reveal()).not.toBe(bob.current().accessToken.reveal());
    // Refreshing one user's login leaves the other's as it was.
    const bobBefore = bob.current().accessToken.reveal();
    await ann.fresh({ minValidityMs: 3_600_000 });
    const bobAgain = await authenticate(provider, {
      store: userStore(store, 'bob'),
      interactive: false,
    });
    expect(bobAgain.current().accessToken.reveal()).toBe(bobBefore);
    // A user id with a slash cannot reach into another user's part.
    expect(await userStore(store, 'ann/..').list()).toEqual([]);
    expect(await userStore(store, 'an').list()).toEqual([]);
    expect(await userStore(store, 'ann').list()).toEqual([
      `credentials/test-as/${encodeURIComponent(ACCOUNT)}`,
    ]);
  });

  it('refuses a callback for another user, replayed, forged, without state, or at another address, and changes nothing', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    const { url } = await startSignIn(provider, { store, user: 'victim', redirectUri });
    const callback = await userApproves(url);
    const before = await snapshot(store);

    const attempts: [string, string, LatchkeyErrorCode][] = [
      ['another user', callback, 'STATE_MISMATCH'],
      ['forged state', callback.replace(/state=[^&]+/, 'state=forged'), 'STATE_MISMATCH'],
      ['no state', callback.replace(/state=[^&]+&?/, ''), 'STATE_MISMATCH'],
    ];
    for (const [what, callbackUrl, code] of attempts) {
      const user = what === 'another user' ? 'attacker' : 'victim';
      const failed = await failure(finishSignIn(provider, { store, user, callbackUrl }));
      expect(failed.code, what).toBe(code);
    }
    const elsewhere = callback.replace('/web/callback', '/other');
    expect(
      (await failure(finishSignIn(provider, { store, user: 'victim', callbackUrl: elsewhere })))
        .code,
    ).toBe('CALLBACK_INVALID');
    // A response that names another authorization server (RFC 9207) is not acted on; it
    // uses the sign-in up, since its state was the real one, but stores nothing.
    {
      const { url: mixUp } = await startSignIn(provider, { store, user: 'mixup', redirectUri });
      const forgedIss = (await userApproves(mixUp)).replace(
        /iss=[^&]+/,
        'iss=https%3A%2F%2Fevil.example',
      );
      expect(
        (await failure(finishSignIn(provider, { store, user: 'mixup', callbackUrl: forgedIss })))
          .code,
      ).toBe('ISSUER_MISMATCH');
      expect(await userStore(store, 'mixup').list()).toEqual([]);
    }
    // Another provider than the one the sign-in was started for.
    const other = testProvider(server, {}, 'other-as');
    expect(
      (await failure(finishSignIn(other, { store, user: 'victim', callbackUrl: callback }))).code,
    ).toBe('CALLBACK_INVALID');
    expect(await snapshot(store)).toBe(before);

    // The victim can still finish, once; the replay then fails and leaves the login.
    server.resetCounts();
    const session = await finishSignIn([other, provider], {
      store,
      user: 'victim',
      callbackUrl: callback,
    });
    expect(server.counts().token.authorization_code).toBe(1);
    const login = await snapshot(store);
    const replay = await failure(
      finishSignIn(provider, { store, user: 'victim', callbackUrl: callback }),
    );
    expect(replay.code).toBe('STATE_MISMATCH');
    expect(await snapshot(store)).toBe(login);
    expect(server.counts().token.authorization_code).toBe(1);
    expect(session.account).toBe(ACCOUNT);
  });

  it('lets only one of two concurrent finishes of one callback through', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    const { url } = await startSignIn(provider, { store, user: 'u', redirectUri });
    const callbackUrl = await userApproves(url);
    server.resetCounts();
    const results = await Promise.allSettled([
      finishSignIn(provider, { store, user: 'u', callbackUrl }),
      finishSignIn(provider, { store, user: 'u', callbackUrl }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: 'STATE_MISMATCH' });
    expect(server.counts().token.authorization_code).toBe(1);
  });

  it('fails an expired sign-in with SIGN_IN_EXPIRED and removes it', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    const { url } = await startSignIn(provider, { store, user: 'u', redirectUri });
    const callbackUrl = await userApproves(url);
    // Age the pending record as the clock would.
    const view = userStore(store, 'u');
    const [key] = await view.list('signin/');
    const record = await view.get(key as string);
    await view.set(key as string, { ...record, expiresAt: Date.now() - 1 });
    const failed = await failure(finishSignIn(provider, { store, user: 'u', callbackUrl }));
    expect(failed.code).toBe('SIGN_IN_EXPIRED');
    expect(await store.list()).toEqual([]);
  });

  it('reports a refusal at the authorization server as AUTH_DENIED and uses the sign-in up', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    server.setInteraction('deny');
    try {
      const { url } = await startSignIn(provider, { store, user: 'u', redirectUri });
      const callbackUrl = await userApproves(url);
      expect(new URL(callbackUrl).searchParams.get('error')).toBe('access_denied');
      expect((await failure(finishSignIn(provider, { store, user: 'u', callbackUrl }))).code).toBe(
        'AUTH_DENIED',
      );
      expect(await store.list()).toEqual([]);
    } finally {
      server.setInteraction('auto');
    }
  });

  it('checks the account asked for at the end', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    const { url } = await startSignIn(provider, { store, user: 'u', redirectUri, account: 'bob' });
    const callbackUrl = await userApproves(url);
    const failed = await failure(finishSignIn(provider, { store, user: 'u', callbackUrl }));
    expect(failed.code).toBe('ACCOUNT_MISMATCH');
    expect(await store.list()).toEqual([]);
  });

  it('keeps at most 20 pending sign-ins per user, dropping the oldest', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    const urls: string[] = [];
    for (let i = 0; i < 22; i += 1) {
      urls.push((await startSignIn(provider, { store, user: 'u', redirectUri })).url);
    }
    expect(await userStore(store, 'u').list('signin/')).toHaveLength(20);
    const oldest = await userApproves(urls[0] as string);
    expect(
      (await failure(finishSignIn(provider, { store, user: 'u', callbackUrl: oldest }))).code,
    ).toBe('STATE_MISMATCH');
    const newest = await userApproves(urls[21] as string);
    expect((await finishSignIn(provider, { store, user: 'u', callbackUrl: newest })).account).toBe(
      ACCOUNT,
    );
  });

  it('rejects wrong options: the browser strategy, plain http off loopback, bad URIs, users and expiries', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    const browserProvider = defineProvider({
      id: 'web-session',
      name: 'Web Session',
      strategy: {
        kind: 'browser',
        startUrl: 'https://app.example/login',
        extract: () => undefined,
      },
    });
    expect(
      (await failure(startSignIn(browserProvider, { store, user: 'u', redirectUri }))).code,
    ).toBe('STRATEGY_UNSUPPORTED');
    expect(
      (
        await failure(
          startSignIn(provider, { store, user: 'u', redirectUri: 'http://app.example/callback' }),
        )
      ).code,
    ).toBe('INSECURE_ENDPOINT');
    for (const bad of ['callback', 'https://app.example/cb#frag', 'ftp://app.example/cb']) {
      await expect(startSignIn(provider, { store, user: 'u', redirectUri: bad })).rejects.toThrow(
        TypeError,
      );
    }
    for (const user of ['', 'x'.repeat(513), 42 as unknown as string]) {
      await expect(startSignIn(provider, { store, user, redirectUri })).rejects.toThrow(TypeError);
      await expect(
        finishSignIn(provider, { store, user, callbackUrl: '/cb?state=x' }),
      ).rejects.toThrow(TypeError);
    }
    await expect(
      startSignIn(provider, { store, user: 'u', redirectUri, expiresInMs: 1_000 }),
    ).rejects.toThrow(TypeError);
    expect(
      (await failure(finishSignIn(provider, { store, user: 'u', callbackUrl: 'not a url' }))).code,
    ).toBe('CALLBACK_INVALID');
    expect(await store.list()).toEqual([]);
  });
});

describe('startSignIn() and finishSignIn() with the mcp strategy', () => {
  it('registers the web redirect URI as it is and finishes on another engine', async () => {
    const store = memoryStore();
    const webRedirect = 'https://app.example.test/connect/callback';
    const provider = mcpAuthProvider(mcp.url, { allowHttpLoopback: true });
    as.clearRequests();
    const { url } = await startSignIn(provider, { store, user: 'u1', redirectUri: webRedirect });
    const registration = as.requests().find((r) => r.endpoint === 'registration');
    expect(registration?.registration).toMatchObject({
      redirect_uris: [webRedirect],
      application_type: 'web',
    });
    expect(new URL(url).searchParams.get('resource')).toBe(mcp.url);
    const callbackUrl = await userApproves(url, webRedirect);
    as.clearRequests();
    const session = await finishSignIn(provider, { store, user: 'u1', callbackUrl });
    // No discovery again: the finishing instance uses what the start kept.
    expect(as.requests().filter((r) => r.endpoint === 'metadata')).toEqual([]);
    expect(session.current().engine).toMatchObject({ kind: 'mcp', issuer: as.issuer });
    const response = await fetch(mcp.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${(await session.fresh()).accessToken.reveal()}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'web', version: '1' },
        },
      }),
    });
    expect(response.status).toBe(200);
    // The registration is the user's, in the user's part of the store.
    const keys = await store.list();
    expect(keys.every((k) => k.startsWith('users/u1/'))).toBe(true);
  });
});
