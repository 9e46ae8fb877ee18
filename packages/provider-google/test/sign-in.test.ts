// Sign-in, refresh, re-authentication and logout against a local fake of Google's
// endpoints that keeps Google's quirks (see fixtures/fake-google.ts).
import {
  authenticate,
  type Credentials,
  defineProvider,
  isLatchkeyError,
  memoryStore,
  type OAuthStrategy,
  type OAuthStrategyDefinition,
  type Session,
} from '@latchkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { googleScope } from '../src/index.js';
import {
  type FakeGoogle,
  startFakeGoogle,
  startTokenExchangeProxy,
} from './fixtures/fake-google.js';
import {
  failOnSecretOutput,
  fakeGoogleProvider,
  leakWatch,
  options,
  unattendedUser,
} from './helpers.js';

const DRIVE = googleScope('drive.readonly');
const EMAIL = googleScope('email');
const ADA = 'ada.lovelace@gmail.com';
const GRACE = 'grace.hopper@example.com';

let fake: FakeGoogle;
failOnSecretOutput(() => fake?.secrets() ?? []);

beforeAll(async () => {
  fake = await startFakeGoogle({
    users: [
      { sub: '110248495921238986420', email: ADA, name: 'Ada Lovelace' },
      { sub: '104857193047561928374', email: GRACE, name: 'Grace Hopper', hd: 'example.com' },
    ],
  });
});
afterAll(async () => {
  await fake?.close();
});

const same = (a: { reveal(): string } | undefined, b: { reveal(): string } | undefined) =>
  a !== undefined && b !== undefined && a.reveal() === b.reveal();

/** A provider for the fake written with defineProvider() alone, without googleProvider()'s defaults. */
function rawProvider(id: string, strategy: Partial<OAuthStrategyDefinition>) {
  const { issuer, ...endpoints } = fake.endpoints;
  return defineProvider({
    id,
    strategy: {
      kind: 'oauth',
      issuer,
      endpoints,
      clientId: fake.client.clientId,
      scopes: ['openid', EMAIL],
      ...strategy,
    },
  });
}

function lastToken() {
  return fake.tokenRequests.at(-1);
}

/**
 * The OAuth client of the session's provider, which launchServer() hands recipes as
 * `context.client`: its id, and whether it holds the fake's secret.
 */
function clientOf(session: Session): { clientId: string; hasSecret: boolean } {
  const { clientId, clientAuthentication: auth } = session.provider.strategy as OAuthStrategy;
  const hasSecret =
    'clientSecret' in auth && auth.clientSecret.reveal() === fake.client.clientSecret;
  return { clientId, hasSecret };
}

describe('sign-in', () => {
  it('asks for offline access and consent, sends the secret only to the token endpoint, names the account by its email', async () => {
    const user = unattendedUser();
    const watch = leakWatch();
    const store = memoryStore();
    const session = await authenticate(
      fakeGoogleProvider(fake),
      options({ store, openUrl: user.openUrl, onEvent: watch.onEvent }),
    );
    const url = user.opened[0] as URL;
    expect(url.origin + url.pathname).toBe(fake.endpoints.authorization);
    const params = Object.fromEntries(url.searchParams);
    expect(params).toMatchObject({
      client_id: fake.client.clientId,
      response_type: 'code',
      scope: `openid ${EMAIL} ${DRIVE}`,
      access_type: 'offline',
      prompt: 'consent',
      include_granted_scopes: 'true',
      code_challenge_method: 'S256',
    });
    expect(params).not.toHaveProperty('client_secret');
    expect(lastToken()).toMatchObject({
      grantType: 'authorization_code',
      secretVia: 'client_secret_post',
      status: 200,
    });

    const c = session.current();
    expect(session.account).toBe(ADA);
    expect(c.refreshToken).toBeDefined();
    expect(c.scopes).toEqual(['openid', EMAIL, DRIVE]);
    expect(c.metadata).toMatchObject({
      email: ADA,
      sub: '110248495921238986420',
      issuer: fake.origin,
    });
    expect(c.metadata).not.toHaveProperty('hd');
    // The client stays with the provider, for the recipes that need it.
    expect(clientOf(session)).toEqual({ clientId: fake.client.clientId, hasSecret: true });
    expect((c.expiresAt as number) - c.obtainedAt).toBe(3599_000);
    watch.record(session);
    watch.record(JSON.stringify(session));
    watch.record(await store.list('credentials/'));
    expect(watch.leaks(fake.secrets())).toBe(0);
  });

  it('a second authenticate() reuses the stored login: the requested scopes match what Google reports', async () => {
    const store = memoryStore();
    await authenticate(
      fakeGoogleProvider(fake),
      options({ store, openUrl: unattendedUser().openUrl }),
    );
    const watch = leakWatch();
    const again = await authenticate(
      fakeGoogleProvider(fake),
      options({
        store,
        openUrl: () => {
          throw new Error('the stored login should have been reused');
        },
        onEvent: watch.onEvent,
      }),
    );
    expect(again.account).toBe(ADA);
    expect(watch.events.map((e) => e.type)).toContain('credentials_reused');
  });

  it('step-up: no prompt=consent with a stored refresh token; Google asks for the new scope, sends a refresh token, and reports all granted scopes', async () => {
    const store = memoryStore();
    const first = await authenticate(
      fakeGoogleProvider(fake),
      options({ store, openUrl: unattendedUser().openUrl }),
    );
    const user = unattendedUser();
    const gmail = googleScope('gmail.modify');
    const stepped = await authenticate(
      fakeGoogleProvider(fake, { scopes: ['gmail.modify'] }),
      options({ store, openUrl: user.openUrl }),
    );
    const params = (user.opened[0] as URL).searchParams;
    expect(params.get('prompt')).toBeNull();
    expect(params.get('include_granted_scopes')).toBe('true');
    const c = stepped.current();
    expect(c.account).toBe(first.account);
    expect(c.refreshToken).toBeDefined();
    // include_granted_scopes: Drive, granted before, is reported too.
    expect([...c.scopes].sort()).toEqual(['openid', EMAIL, DRIVE, gmail].sort());
  });

  it('a login that Google stored without a refresh token is refreshed by a new sign-in with prompt=consent', async () => {
    // What the provider guards against: an already-consented user signing in again
    // without prompt=consent gets no refresh token from Google.
    const raw = rawProvider('google-raw', {
      clientSecret: fake.client.clientSecret,
      clientAuthentication: 'client_secret_post',
      authorizationParams: { access_type: 'offline' },
    });
    fake.revokeAll();
    const first = await authenticate(
      raw,
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    );
    expect(first.current().refreshToken).toBeDefined();
    const second = await authenticate(
      raw,
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    );
    expect(second.current().refreshToken).toBeUndefined();

    // The provider asks for consent when no refresh token is stored, and gets one.
    const user = unattendedUser();
    const session = await authenticate(
      fakeGoogleProvider(fake, { scopes: [] }),
      options({ store: memoryStore(), openUrl: user.openUrl }),
    );
    expect((user.opened[0] as URL).searchParams.get('prompt')).toBe('consent');
    expect(session.current().refreshToken).toBeDefined();
  });

  it('without access_type=offline Google sends no refresh token', async () => {
    const raw = rawProvider('google-online', {
      clientSecret: fake.client.clientSecret,
      authorizationParams: { prompt: 'consent' },
    });
    const session = await authenticate(
      raw,
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    );
    expect(session.current().refreshToken).toBeUndefined();
    // client_secret_basic works at Google too.
    expect(lastToken()).toMatchObject({ secretVia: 'client_secret_basic', status: 200 });
  });

  it('Google refuses a token request without the client secret, PKCE or not: why the provider needs one', async () => {
    const publicClient = rawProvider('google-public', {});
    const watch = leakWatch();
    const error = await authenticate(
      publicClient,
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl, onEvent: watch.onEvent }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'TOKEN_REQUEST_FAILED')).toBe(true);
    expect((error as Error).message).toContain('client_secret is missing.');
    expect(lastToken()).toMatchObject({ secretVia: 'none', status: 400, error: 'invalid_request' });
    watch.record(error);
    expect(watch.leaks(fake.secrets())).toBe(0);
  });

  it('a wrong client secret: TOKEN_REQUEST_FAILED (invalid_client), the secret not in the message', async () => {
    const wrong = 'GOCSPX-wrong-secret-value-123';
    const error = await authenticate(
      fakeGoogleProvider(fake, { clientSecret: wrong }),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'TOKEN_REQUEST_FAILED')).toBe(true);
    expect((error as Error).message).toContain('invalid_client');
    const watch = leakWatch();
    watch.record(error);
    expect(watch.leaks([wrong, ...fake.secrets()])).toBe(0);
  });

  it('a stored login holds neither the client id in its metadata nor the client secret in its secrets', async () => {
    const store = memoryStore();
    const session = await authenticate(
      fakeGoogleProvider(fake),
      options({ store, openUrl: unattendedUser().openUrl }),
    );
    await session.refresh();
    const keys = await store.list('credentials/google/');
    expect(keys).toHaveLength(1);
    const record = (await store.get(keys[0] as string)) as Record<string, unknown>;
    expect(record.metadata).toMatchObject({ email: ADA });
    expect(record.metadata).not.toHaveProperty('clientId');
    expect(record.secrets).toEqual({});
    expect(JSON.stringify(record).includes(fake.client.clientSecret)).toBe(false);
  });
});

describe('refresh, expiry, logout', () => {
  it('refresh sends the secret; Google keeps the refresh token; the store follows', async () => {
    const store = memoryStore();
    const watch = leakWatch();
    const session = await authenticate(
      fakeGoogleProvider(fake),
      options({ store, openUrl: unattendedUser().openUrl, onEvent: watch.onEvent }),
    );
    const before = session.current();
    const after = await session.refresh();
    expect(same(after.accessToken, before.accessToken)).toBe(false);
    expect(same(after.refreshToken, before.refreshToken)).toBe(true);
    expect(after.scopes).toEqual(before.scopes);
    expect(after.metadata).toMatchObject({ email: ADA, sub: '110248495921238986420' });
    expect(after.metadata).not.toHaveProperty('clientId');
    expect(after.secrets).toEqual({});
    expect(lastToken()).toMatchObject({
      grantType: 'refresh_token',
      secretVia: 'client_secret_post',
      status: 200,
    });
    expect(watch.events.map((e) => e.type)).toContain('token_refreshed');
    expect(watch.leaks(fake.secrets())).toBe(0);
  });

  it('invalid_grant on refresh (the 7-day Testing limit): REAUTH_REQUIRED saying so; the next sign-in gets a new refresh token', async () => {
    const store = memoryStore();
    const watch = leakWatch();
    const session = await authenticate(
      fakeGoogleProvider(fake),
      options({ store, openUrl: unattendedUser().openUrl, onEvent: watch.onEvent }),
    );
    const old = session.current().refreshToken?.reveal() as string;
    fake.expireRefreshTokens();
    const error = await session.refresh().catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'REAUTH_REQUIRED')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(ADA);
    expect(message).toContain('Sign in again');
    expect(message).toContain('7 days');
    expect(message).toContain('"Testing"');
    expect(lastToken()).toMatchObject({ grantType: 'refresh_token', error: 'invalid_grant' });
    expect(await store.list('credentials/google/')).toEqual([]);
    expect(watch.events.map((e) => e.type)).toContain('credentials_dropped');

    const user = unattendedUser();
    const again = await authenticate(
      fakeGoogleProvider(fake),
      options({ store, openUrl: user.openUrl }),
    );
    expect((user.opened[0] as URL).searchParams.get('prompt')).toBe('consent');
    expect(again.current().refreshToken).toBeDefined();
    expect(fake.refreshTokenValid(again.current().refreshToken?.reveal() as string)).toBe(true);
    expect(fake.refreshTokenValid(old)).toBe(false);
    watch.record(error);
    expect(watch.leaks(fake.secrets())).toBe(0);
  });

  it('logout revokes the refresh token at Google (the whole grant) and forgets the login', async () => {
    const store = memoryStore();
    const session = await authenticate(
      fakeGoogleProvider(fake),
      options({ store, openUrl: unattendedUser().openUrl }),
    );
    const { refreshToken, accessToken } = session.current() as Credentials;
    const result = await session.logout();
    expect(result).toEqual({ revoked: true });
    expect(fake.revocations.at(-1)).toBe('refresh_token');
    expect(fake.refreshTokenValid(refreshToken?.reveal() as string)).toBe(false);
    expect(await store.list('credentials/google/')).toEqual([]);
    // The access token went with the grant.
    const info = await fetch(fake.endpoints.userinfo, {
      headers: { authorization: `Bearer ${accessToken.reveal()}` },
    });
    expect(info.status).toBe(401);
    await info.body?.cancel();
  });
});

describe('a Workspace domain (hostedDomain)', () => {
  it('refuses an account of another domain (ACCOUNT_MISMATCH), although hd was sent', async () => {
    const user = unattendedUser();
    const error = await authenticate(
      fakeGoogleProvider(fake, { hostedDomain: 'example.com' }),
      options({ store: memoryStore(), openUrl: user.openUrl }),
    ).catch((e: unknown) => e);
    expect((user.opened[0] as URL).searchParams.get('hd')).toBe('example.com');
    expect(isLatchkeyError(error, 'ACCOUNT_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain(ADA);
    expect((error as Error).message).toContain('example.com');
    const anyDomain = await authenticate(
      fakeGoogleProvider(fake, { hostedDomain: '*' }),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(anyDomain, 'ACCOUNT_MISMATCH')).toBe(true);
  });

  it('accepts an account of the domain, chosen with login_hint, and keeps hd', async () => {
    const user = unattendedUser();
    const session = await authenticate(
      fakeGoogleProvider(fake, { hostedDomain: 'example.com', scopes: ['profile'] }),
      options({ store: memoryStore(), openUrl: user.openUrl, account: GRACE }),
    );
    expect((user.opened[0] as URL).searchParams.get('login_hint')).toBe(GRACE);
    expect(session.account).toBe(GRACE);
    expect(session.current().metadata).toMatchObject({
      email: GRACE,
      hd: 'example.com',
      name: 'Grace Hopper',
    });
  });
});

describe('a token-exchange proxy instead of the secret', () => {
  it('Latchkey sends no secret; the proxy adds it for the code exchange and the refresh', async () => {
    const proxy = await startTokenExchangeProxy(fake.endpoints.token, fake.client);
    try {
      const watch = leakWatch();
      const session = await authenticate(
        fakeGoogleProvider(fake, { tokenExchange: proxy.url }),
        options({
          store: memoryStore(),
          openUrl: unattendedUser().openUrl,
          onEvent: watch.onEvent,
        }),
      );
      expect(session.account).toBe(ADA);
      const c = session.current();
      expect(c.refreshToken).toBeDefined();
      expect(c.metadata).not.toHaveProperty('clientId');
      expect(c.secrets).toEqual({});
      expect(clientOf(session)).toEqual({ clientId: fake.client.clientId, hasSecret: false });
      await session.refresh();
      expect(proxy.received).toEqual([{ hadSecret: false }, { hadSecret: false }]);
      expect(fake.tokenRequests.slice(-2)).toMatchObject([
        { grantType: 'authorization_code', secretVia: 'client_secret_post', status: 200 },
        { grantType: 'refresh_token', secretVia: 'client_secret_post', status: 200 },
      ]);
      // Revocation needs no secret at Google: it goes straight to the revocation endpoint.
      expect(await session.logout()).toEqual({ revoked: true });
      expect(watch.leaks(fake.secrets())).toBe(0);
    } finally {
      await proxy.close();
    }
  });
});
