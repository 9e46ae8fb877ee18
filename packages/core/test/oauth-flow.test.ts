import { inspect } from 'node:util';
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticate,
  type Credentials,
  isLatchkeyError,
  LatchkeyError,
  memoryStore,
} from '../src/index.js';
import {
  credentialsForNewLogin,
  refreshCredentials,
  resolveAuthorizationServer,
} from '../src/oauth.js';
import { canaryWatch, noBrowser, options, testProvider, unattendedUser } from './helpers.js';

let server: TestAuthServer;

beforeAll(async () => {
  server = await startAuthServer({ accessTokenTtl: 600 });
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  server.fault(undefined);
  server.setInteraction('auto');
  server.setAccount('alice');
  server.resetCounts();
});

describe('authorization code flow against oidc-provider', () => {
  it('signs in, names the account, stores the credentials and reports progress', async () => {
    const store = memoryStore();
    const user = unattendedUser();
    const watch = canaryWatch();
    const session = await authenticate(
      testProvider(server),
      options({ store, openUrl: user.openUrl, onEvent: watch.onEvent, fetch: watch.fetch }),
    );
    expect(session.account).toBe('alice@example.test');
    const creds = session.current();
    expect(creds.scopes).toEqual(expect.arrayContaining(['openid', 'email', 'read']));
    expect(creds.refreshToken).toBeDefined();
    expect(creds.expiresAt).toBeGreaterThan(Date.now() + 500_000);
    expect(creds.metadata.issuer).toBe(server.issuer);

    const url = new URL(user.opened[0] as string);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect((await user.outcomes[0])?.status).toBe(200);

    expect(await store.list()).toEqual(['credentials/test-as/alice%40example.test']);
    expect(server.counts().token.authorization_code).toBe(1);
    expect(watch.events.map((e) => e.type)).toEqual([
      'discovery_completed',
      'authorization_url_opened',
      'waiting_for_callback',
      'callback_received',
      'login_completed',
    ]);
    watch.record(JSON.stringify(session));
    watch.record(inspect(session));
    watch.record(inspect(creds));
    watch.record(JSON.stringify(creds));
    expect(watch.tokens.size).toBeGreaterThanOrEqual(3);
    expect(watch.leaks()).toEqual([]);
  });

  it('reuses stored credentials without a browser or a token request', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    const first = await authenticate(
      provider,
      options({ store, openUrl: unattendedUser().openUrl }),
    );
    server.resetCounts();
    const events: string[] = [];
    const again = await authenticate(
      provider,
      options({ store, openUrl: noBrowser(), onEvent: (e) => events.push(e.type) }),
    );
    expect(again.current().accessToken.reveal()).toBe(first.current().accessToken.reveal());
    expect(server.counts().token).toEqual({});
    expect(events).toEqual(['credentials_reused']);
  });

  it('refreshes ahead of expiry, rotates and persists the refresh token, and notifies', async () => {
    const store = memoryStore();
    const session = await authenticate(
      testProvider(server),
      options({ store, openUrl: unattendedUser().openUrl }),
    );
    const before = session.current();
    const changes: Credentials[] = [];
    session.onChange((c) => changes.push(c));

    // Still valid for 10 minutes: no refresh with the default skew.
    expect(await session.fresh()).toBe(before);
    expect(server.counts().token.refresh_token ?? 0).toBe(0);

    const after = await session.fresh({ minValidityMs: 3_600_000 });
    expect(server.counts().token.refresh_token).toBe(1);
    expect(after.accessToken.reveal()).not.toBe(before.accessToken.reveal());
    expect(after.refreshToken?.reveal()).not.toBe(before.refreshToken?.reveal());
    expect(changes).toEqual([after]);
    const stored = await store.get('credentials/test-as/alice%40example.test');
    expect(stored?.refreshToken).toBe(after.refreshToken?.reveal());
    expect(stored?.accessToken).toBe(after.accessToken.reveal());

    // The old refresh token was rotated away: using it again fails.
    const ctx = await resolveAuthorizationServer(testProvider(server));
    const error = await refreshCredentials(ctx, before).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'INVALID_GRANT')).toBe(true);
  });

  it('refreshes a short-lived token by itself at half its lifetime, not on every call', async () => {
    const short = await startAuthServer({ accessTokenTtl: 4 });
    try {
      const session = await authenticate(
        testProvider(short),
        options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
      );
      const first = session.current();
      for (let i = 0; i < 50; i += 1) expect(await session.fresh()).toBe(first);
      expect(short.counts().token.refresh_token ?? 0).toBe(0);
      // Wait until less than half of the 4 s lifetime is left.
      await new Promise((r) =>
        setTimeout(r, Math.max(0, (first.expiresAt ?? 0) - 1500 - Date.now())),
      );
      const second = await session.fresh();
      expect(second.accessToken.reveal()).not.toBe(first.accessToken.reveal());
      expect(second.expiresAt).toBeGreaterThan(Date.now() + 2000);
      expect(short.counts().token.refresh_token).toBe(1);
    } finally {
      await short.close();
    }
  });

  it('shares one refresh among 100 concurrent fresh() calls', async () => {
    const session = await authenticate(
      testProvider(server),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    );
    server.resetCounts();
    const results = await Promise.all(
      Array.from({ length: 100 }, () => session.fresh({ minValidityMs: 3_600_000 })),
    );
    expect(server.counts().token.refresh_token).toBe(1);
    expect(new Set(results.map((c) => c.accessToken.reveal())).size).toBe(1);
  });

  it('drops the login and raises REAUTH_REQUIRED on invalid_grant, without looping', async () => {
    const store = memoryStore();
    const provider = defineProviderWithHint();
    const events: string[] = [];
    const session = await authenticate(
      provider,
      options({ store, openUrl: unattendedUser().openUrl, onEvent: (e) => events.push(e.type) }),
    );
    await server.revokeGrantsFor('alice');
    server.resetCounts();
    const error = await session.refresh().catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'REAUTH_REQUIRED')).toBe(true);
    expect((error as Error).message).toContain('Sign in again');
    expect((error as Error).message).toContain('test hint');
    expect(server.counts().token.refresh_token).toBe(1);
    expect(await store.list()).toEqual([]);
    expect(events).toContain('credentials_dropped');

    const again = await authenticate(provider, options({ store, interactive: false })).catch(
      (e: unknown) => e,
    );
    expect(isLatchkeyError(again, 'LOGIN_REQUIRED')).toBe(true);
  });

  it('logs out: revokes at the server, then deletes', async () => {
    const store = memoryStore();
    const session = await authenticate(
      testProvider(server),
      options({ store, openUrl: unattendedUser().openUrl }),
    );
    const creds = session.current();
    const result = await session.logout();
    expect(result).toEqual({ revoked: true });
    // The session is over: it hands out nothing any more.
    await expect(session.fresh()).rejects.toMatchObject({ code: 'LOGIN_REQUIRED' });
    expect(server.counts().revocation).toBe(1);
    expect(await store.list()).toEqual([]);
    const ctx = await resolveAuthorizationServer(testProvider(server));
    const error = await refreshCredentials(ctx, creds).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'INVALID_GRANT')).toBe(true);
  });

  it('deletes locally even when revocation fails, and says so', async () => {
    const store = memoryStore();
    const session = await authenticate(
      testProvider(server),
      options({ store, openUrl: unattendedUser().openUrl }),
    );
    server.fault({ endpoint: 'revocation', kind: 'http-500-json' });
    const result = await session.logout();
    expect(result.revoked).toBe(false);
    expect(result.revocationError?.code).toBe('INVALID_RESPONSE');
    expect(result.revocationError?.message).toContain('HTTP 500');
    expect(await store.list()).toEqual([]);
  });

  it('keeps several accounts apart and asks which one to use', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    await authenticate(provider, options({ store, openUrl: unattendedUser().openUrl }));
    server.setAccount('bob');
    const bob = await authenticate(
      provider,
      options({ store, openUrl: unattendedUser().openUrl, forceLogin: true }),
    );
    expect(bob.account).toBe('bob@example.test');
    const error = await authenticate(provider, options({ store, openUrl: noBrowser() })).catch(
      (e: unknown) => e,
    );
    expect(isLatchkeyError(error, 'ACCOUNT_AMBIGUOUS')).toBe(true);
    expect((error as Error).message).toContain('alice@example.test');
    const alice = await authenticate(
      provider,
      options({ store, account: 'alice@example.test', openUrl: noBrowser() }),
    );
    expect(alice.account).toBe('alice@example.test');
    const mismatch = await authenticate(
      provider,
      options({
        store: memoryStore(),
        account: 'carol@example.test',
        openUrl: unattendedUser().openUrl,
      }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(mismatch, 'ACCOUNT_MISMATCH')).toBe(true);
  });

  it('signs in again when stored credentials lack a requested scope', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    await authenticate(provider, options({ store, openUrl: unattendedUser().openUrl }));
    const user = unattendedUser();
    const wider = await authenticate(
      provider,
      options({ store, openUrl: user.openUrl, scopes: ['write'] }),
    );
    expect(user.opened).toHaveLength(1);
    expect(wider.current().scopes).toContain('write');
  });

  it('authenticates confidential clients with client_secret_basic and client_secret_post', async () => {
    for (const [client, method] of [
      [server.clients.basic, 'client_secret_basic'],
      [server.clients.post, 'client_secret_post'],
    ] as const) {
      const provider = testProvider(
        server,
        {
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          clientAuthentication: method,
        },
        `conf-${method}`,
      );
      const session = await authenticate(
        provider,
        options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
      );
      expect(session.account).toBe('alice@example.test');
      await session.refresh();
    }
    expect(server.counts().token.authorization_code).toBe(2);
    expect(server.counts().token.refresh_token).toBe(2);
  });

  it('builds credentials from a token result through the exported steps', async () => {
    const ctx = await resolveAuthorizationServer(testProvider(server));
    expect(ctx.as.issuer).toBe(server.issuer);
    expect(typeof credentialsForNewLogin).toBe('function');
  });
});

function defineProviderWithHint() {
  return { ...testProvider(server), reauthHint: 'test hint.' };
}

describe('errors are LatchkeyErrors with stable codes', () => {
  it('is a LatchkeyError class with a code', () => {
    const e = new LatchkeyError('AUTH_TIMEOUT', 'x');
    expect(e).toBeInstanceOf(Error);
    expect(isLatchkeyError(e, 'AUTH_TIMEOUT')).toBe(true);
    expect(isLatchkeyError(new Error('x'))).toBe(false);
  });
});
