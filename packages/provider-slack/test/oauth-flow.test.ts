// The Slack OAuth provider end to end against a local Slack that speaks its wire format:
// the authorization URL, the nested `oauth.v2.access` answer, `ok: false` errors on
// HTTP 200, token rotation, `auth.test`, and the fixed redirect port.
import { authenticate, isLatchkeyError, type LatchkeyEvent, memoryStore } from '@latchkey/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  SLACK_SERVER_BOT_SCOPES,
  type SlackProviderOptions,
  slackProvider,
  userScope,
} from '../src/index.js';
import { type FakeSlack, startFakeSlack, USER } from './fixtures/fake-slack.js';
import { captureOutput, consentingUser, freePort, leaked } from './fixtures/helpers.js';

const output = captureOutput();
let slack: FakeSlack;
let port: number;
const SECRET = 'fake-slack-client-secret-0123456789';

beforeAll(async () => {
  slack = await startFakeSlack();
});

afterAll(async () => {
  await slack?.close();
  // No token, code or secret the fake handed out reached the output.
  expect(leaked([...(slack?.issued ?? []), SECRET], output())).toEqual([]);
});

async function app(overrides: Partial<FakeSlack['app']> = {}) {
  port = await freePort();
  slack.app = {
    clientId: '1111.2222',
    clientSecret: SECRET,
    redirectUri: `http://127.0.0.1:${port}/slack/callback`,
    rotation: false,
    team: 'T0AAA111',
    ...overrides,
  };
}

function provider(options: Partial<SlackProviderOptions> = {}) {
  return slackProvider({
    clientId: '1111.2222',
    clientSecret: SECRET,
    botScopes: SLACK_SERVER_BOT_SCOPES,
    userScopes: ['search:read', 'channels:history'],
    redirectPort: port,
    baseUrl: slack.url,
    ...options,
  } as SlackProviderOptions);
}

afterEach(() => {
  slack.authorizeRequests.length = 0;
  slack.tokenRequests.length = 0;
  slack.authTests.length = 0;
});

describe('Slack OAuth v2 against a local Slack', () => {
  it('signs in: comma scopes and user_scope, the nested answer, auth.test names the team', async () => {
    await app();
    const user = consentingUser();
    const events: LatchkeyEvent[] = [];
    const session = await authenticate(provider(), {
      store: memoryStore(),
      openUrl: user.openUrl,
      onEvent: (e) => events.push(e),
    });

    const sent = user.opened[0] as URL;
    expect(`${sent.origin}${sent.pathname}`).toBe(`${slack.url}/oauth/v2/authorize`);
    expect(sent.searchParams.get('scope')).toBe(SLACK_SERVER_BOT_SCOPES.join(','));
    expect(sent.searchParams.get('user_scope')).toBe('search:read,channels:history');
    expect(sent.searchParams.get('redirect_uri')).toBe(`http://127.0.0.1:${port}/slack/callback`);
    expect(sent.searchParams.get('code_challenge_method')).toBe('S256');

    // The code went to oauth.v2.access as a form, with the secret in Basic auth.
    const exchange = slack.tokenRequests[0];
    expect(exchange?.basic).toBe(true);
    expect(exchange?.params.get('grant_type')).toBe('authorization_code');

    const c = session.current();
    expect(session.account).toBe('T0AAA111');
    expect(c.accessToken.reveal()).toMatch(/^xoxb-/);
    expect(c.secrets.userToken?.reveal()).toMatch(/^xoxp-/);
    expect(c.tokenType).toBe('bearer');
    expect(c.scopes).toEqual([
      ...SLACK_SERVER_BOT_SCOPES,
      userScope('search:read'),
      userScope('channels:history'),
    ]);
    expect(c.expiresAt).toBeUndefined();
    expect(c.refreshToken).toBeUndefined();
    expect(c.metadata).toMatchObject({
      tokenKind: 'bot',
      teamId: 'T0AAA111',
      teamName: 'Alpha',
      userId: USER.id,
      botUserId: 'U0BOT0001',
      botUser: 'latchkeybot',
      url: 'https://alpha.slack.com/',
      issuer: slack.url,
    });
    // auth.test was called once, with the new bot token.
    expect(slack.authTests).toMatchObject([{ kind: 'bot', ok: true }]);
    expect(leaked(slack.issued, events, session, c)).toEqual([]);
  });

  it('PKCE app: user scopes only, no secret sent, the verifier checked, user token first', async () => {
    await app({ clientSecret: undefined });
    const session = await authenticate(
      provider({ clientSecret: undefined, pkce: true, botScopes: [] }),
      { store: memoryStore(), openUrl: consentingUser().openUrl },
    );
    const sent = slack.authorizeRequests[0];
    expect(sent?.has('scope')).toBe(false);
    expect(sent?.get('user_scope')).toBe('search:read,channels:history');
    const exchange = slack.tokenRequests[0];
    expect(exchange?.basic).toBe(false);
    expect(exchange?.params.has('client_secret')).toBe(false);
    expect(exchange?.params.get('client_id')).toBe('1111.2222');
    const c = session.current();
    expect(c.accessToken.reveal()).toMatch(/^xoxp-/);
    expect(c.metadata).toMatchObject({ tokenKind: 'user', user: USER.name, userId: USER.id });
    expect(c.scopes).toEqual([userScope('search:read'), userScope('channels:history')]);
  });

  it('token rotation: 12-hour tokens, refresh with grant_type=refresh_token, each refresh token once', async () => {
    await app({ rotation: true });
    const store = memoryStore();
    const events: LatchkeyEvent[] = [];
    const session = await authenticate(provider(), {
      store,
      openUrl: consentingUser().openUrl,
      onEvent: (e) => events.push(e),
    });
    const first = session.current();
    expect(first.accessToken.reveal()).toMatch(/^xoxe\.xoxb-1-/);
    expect(first.refreshToken?.reveal()).toMatch(/^xoxe-1-/);
    expect(first.linkedTokens?.userToken?.refreshToken?.reveal()).toMatch(/^xoxe-1-/);
    expect(first.expiresAt).toBeGreaterThan(Date.now() + 43_000_000);
    expect(first.linkedTokens?.userToken?.expiresAt).toBeGreaterThan(Date.now() + 43_000_000);

    slack.tokenRequests.length = 0;
    const next = await session.refresh();
    const [bot, user] = slack.tokenRequests;
    expect(slack.tokenRequests).toHaveLength(2);
    expect(bot?.params.get('grant_type')).toBe('refresh_token');
    expect(bot?.params.get('refresh_token') === first.refreshToken?.reveal()).toBe(true);
    expect(next.accessToken.reveal()).not.toBe(first.accessToken.reveal());
    expect(next.refreshToken?.reveal()).not.toBe(first.refreshToken?.reveal());
    // What the refresh answer does not renew is kept: the team, the account, the kind.
    expect(next.metadata.teamId).toBe('T0AAA111');
    expect(next.metadata.tokenKind).toBe('bot');
    // The refresh answer names the bot scopes only: the user scopes held are kept.
    expect(next.scopes).toEqual(first.scopes);
    expect(next.scopes).toContain(userScope('search:read'));
    // Slack rotates the user token separately: its own refresh token, its own expiry.
    expect(user?.params.get('grant_type')).toBe('refresh_token');
    const heldUser = first.linkedTokens?.userToken;
    expect(user?.params.get('refresh_token') === heldUser?.refreshToken?.reveal()).toBe(true);
    expect(next.secrets.userToken?.reveal()).toMatch(/^xoxe\.xoxp-1-/);
    expect(next.secrets.userToken?.reveal()).not.toBe(first.secrets.userToken?.reveal());
    const renewedUser = next.linkedTokens?.userToken;
    expect(renewedUser?.refreshToken?.reveal()).not.toBe(heldUser?.refreshToken?.reveal());
    expect(renewedUser?.expiresAt).toBeGreaterThan(heldUser?.expiresAt as number);
    // Both renewed tokens are stored, and Slack accepts them.
    const stored = await authenticate(provider(), { store, interactive: false });
    expect(stored.current().secrets.userToken?.reveal()).toBe(next.secrets.userToken?.reveal());
    const check = await fetch(`${slack.url}/api/auth.test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${next.secrets.userToken?.reveal()}` },
    });
    expect(await check.json()).toMatchObject({ ok: true, user_id: USER.id });

    // Another process spent the refresh token: Slack says invalid_refresh_token on HTTP 200.
    slack.spendRefreshToken(next.refreshToken?.reveal() as string);
    const error = await session.refresh().catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'REAUTH_REQUIRED')).toBe(true);
    expect(events.map((e) => e.type)).toContain('credentials_dropped');
    expect(leaked(slack.issued, events, error)).toEqual([]);
  });

  it('a user token about to expire is refreshed though the bot token is good for hours', async () => {
    await app({ rotation: true });
    const store = memoryStore();
    const first = (
      await authenticate(provider(), { store, openUrl: consentingUser().openUrl })
    ).current();
    // Signed in 12 hours ago; the user token has 30 s left, the bot token hours.
    const [key] = await store.list('credentials/slack/');
    const record = (await store.get(key as string)) as Record<string, unknown>;
    const linked = record.linkedTokens as Record<string, Record<string, unknown>>;
    await store.set(key as string, {
      ...record,
      obtainedAt: Date.now() - 43_200_000,
      expiresAt: Date.now() + 4 * 3_600_000,
      linkedTokens: { userToken: { ...linked.userToken, expiresAt: Date.now() + 30_000 } },
    });
    slack.tokenRequests.length = 0;
    const session = await authenticate(provider(), { store, interactive: false });
    const fresh = await session.fresh();
    expect(slack.tokenRequests).toHaveLength(2);
    expect(fresh.secrets.userToken?.reveal()).not.toBe(first.secrets.userToken?.reveal());
    expect(fresh.linkedTokens?.userToken?.expiresAt).toBeGreaterThan(Date.now() + 43_000_000);
    // Fresh now: the next call spends nothing.
    await session.fresh();
    expect(slack.tokenRequests).toHaveLength(2);
  });

  it('a user-token refresh that fails midway keeps the rotated bot refresh token', async () => {
    await app({ rotation: true });
    const store = memoryStore();
    const session = await authenticate(provider(), {
      store,
      openUrl: consentingUser().openUrl,
    });
    const first = session.current();
    slack.failNextRefresh('user', 'ratelimited');
    const error = await session.refresh().catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'TOKEN_REQUEST_FAILED')).toBe(true);
    expect((error as Error).message).toContain('ratelimited');
    expect((error as Error).message).toContain('userToken');
    // The bot refresh token was spent, and its successor is in the store.
    const kept = (await authenticate(provider(), { store, interactive: false })).current();
    expect(kept.refreshToken?.reveal()).not.toBe(first.refreshToken?.reveal());
    expect(kept.secrets.userToken?.reveal()).toBe(first.secrets.userToken?.reveal());
    // The next refresh renews both, with no invalid_refresh_token on the way.
    const next = await session.refresh();
    expect(next.secrets.userToken?.reveal()).not.toBe(first.secrets.userToken?.reveal());
    expect(leaked(slack.issued, error)).toEqual([]);
  });

  it('a dead user refresh token keeps the bot token and the user token until it expires', async () => {
    await app({ rotation: true });
    const store = memoryStore();
    const events: LatchkeyEvent[] = [];
    const session = await authenticate(provider(), {
      store,
      openUrl: consentingUser().openUrl,
      onEvent: (e) => events.push(e),
    });
    const first = session.current();
    slack.spendRefreshToken(first.linkedTokens?.userToken?.refreshToken?.reveal() as string);
    const next = await session.refresh();
    expect(next.accessToken.reveal()).not.toBe(first.accessToken.reveal());
    expect(next.secrets.userToken?.reveal()).toBe(first.secrets.userToken?.reveal());
    expect(next.linkedTokens?.userToken?.refreshToken).toBeUndefined();
    expect(next.linkedTokens?.userToken?.expiresAt).toBe(first.linkedTokens?.userToken?.expiresAt);
    expect(events.map((e) => e.type)).not.toContain('credentials_dropped');
    // A user token that no refresh can renew does not make every call refresh.
    slack.tokenRequests.length = 0;
    await session.fresh();
    expect(slack.tokenRequests).toHaveLength(0);
  });

  it('a forged code: ok:false invalid_code on HTTP 200 becomes INVALID_GRANT', async () => {
    await app();
    const user = consentingUser((callback) => {
      callback.searchParams.set('code', 'forged-code');
      return callback;
    });
    const error = await authenticate(provider(), {
      store: memoryStore(),
      openUrl: user.openUrl,
    }).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'INVALID_GRANT')).toBe(true);
    expect((error as Error).message).toContain('invalid_code');
    expect(leaked(slack.issued, error)).toEqual([]);
  });

  it('a wrong client secret: ok:false bad_client_secret becomes TOKEN_REQUEST_FAILED, the secret unsaid', async () => {
    await app();
    const wrong = 'wrong-secret-canary-0123456789';
    const error = await authenticate(provider({ clientSecret: wrong }), {
      store: memoryStore(),
      openUrl: consentingUser().openUrl,
    }).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'TOKEN_REQUEST_FAILED')).toBe(true);
    expect((error as Error).message).toContain('bad_client_secret');
    expect(leaked([wrong, SECRET, ...slack.issued], error)).toEqual([]);
  });

  it('the redirect URL registered in the app must be the one sent: the fixed port matters', async () => {
    await app();
    const other = await freePort();
    const error = await authenticate(provider({ redirectPort: other }), {
      store: memoryStore(),
      openUrl: consentingUser().openUrl,
      timeoutMs: 3000,
    }).catch((e: unknown) => e);
    // Slack shows an error page and never calls back.
    expect(
      isLatchkeyError(error, 'OPEN_URL_FAILED') || isLatchkeyError(error, 'AUTH_TIMEOUT'),
    ).toBe(true);
    expect(slack.tokenRequests).toEqual([]);
  });
});
