// The Slack browser-session provider in a real Chromium, driven by puppeteerDriver()
// against a local Slack: a sign-in page, then a client page that fills
// `localConfig_v2` for two teams and sets the HttpOnly `d` cookie.
import { puppeteerDriver } from '@latchkey/browser-extract';
import {
  type AuthenticateOptions,
  authenticate,
  type LatchkeyEvent,
  memoryStore,
} from '@latchkey/core';
import { CHROMIUM_TEST_ARGS } from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SlackBrowserProviderOptions, slackBrowserProvider } from '../src/index.js';
import { browserLeftovers, pageCatcher, signIn, useTestChromium } from './fixtures/chromium.js';
import { type FakeSlack, PASSWORD, startFakeSlack, USER } from './fixtures/fake-slack.js';
import { captureOutput, leaked } from './fixtures/helpers.js';

const output = captureOutput();
let slack: FakeSlack;
let restore: (() => Promise<void>) | undefined;

beforeAll(async () => {
  restore = await useTestChromium();
  slack = await startFakeSlack();
});

afterAll(async () => {
  await slack?.close();
  await restore?.();
  expect(leaked(slack?.issued ?? [], output())).toEqual([]);
});

afterEach(async () => {
  expect(await browserLeftovers()).toEqual({ processes: [], profiles: [] });
  slack.authTests.length = 0;
});

function setup(options: SlackBrowserProviderOptions = {}, extra: AuthenticateOptions = {}) {
  const user = pageCatcher();
  const events: LatchkeyEvent[] = [];
  const provider = slackBrowserProvider({
    baseUrl: slack.url,
    appUrl: slack.url,
    timeoutMs: 30_000,
    ...options,
  });
  const signingIn = authenticate(provider, {
    store: memoryStore(),
    browser: puppeteerDriver({ headless: true, args: CHROMIUM_TEST_ARGS, onPage: user.onPage }),
    onEvent: (event) => events.push(event),
    ...extra,
  });
  return { user, events, signingIn };
}

describe('slackBrowserProvider in a real Chromium', () => {
  it('waits for /client/<team>, reads that team’s xoxc and the HttpOnly d cookie, checks them with auth.test', async () => {
    const t = setup();
    await signIn(await t.user.next());
    const session = await t.signingIn;

    const issued = slack.lastBrowserSession();
    const c = session.current();
    // The client opened T0AAA111; localConfig_v2 holds T0BBB222 too.
    expect(session.account).toBe('T0AAA111');
    expect(c.accessToken.reveal() === issued?.tokens.T0AAA111).toBe(true);
    // The cookie is stored decoded (Slack's is URL-encoded: xoxd-...%2B...%3D).
    expect(c.secrets.d?.reveal() === issued?.cookie).toBe(true);
    expect(c.secrets.d?.reveal()).toMatch(/^xoxd-[A-Za-z0-9+/=]+$/);
    expect(c.scopes).toEqual([]);
    expect(c.refreshToken).toBeUndefined();
    expect(c.expiresAt).toBeGreaterThan(Date.now() + 300 * 86_400_000);
    expect(c.metadata).toMatchObject({
      teamId: 'T0AAA111',
      teamName: 'Alpha',
      user: USER.name,
      userId: USER.id,
      url: 'https://alpha.slack.com/',
    });
    // The browser's own User-Agent is kept, and auth.test got it, the token as a form
    // field and the d cookie, like Slack's web client sends them.
    const agent = c.metadata.userAgent;
    expect(typeof agent).toBe('string');
    expect([...slack.browserUserAgents]).toContain(agent);
    expect(slack.authTests).toEqual([
      {
        host: slack.host,
        kind: 'client',
        tokenIn: 'form',
        cookie: true,
        userAgent: agent,
        ok: true,
      },
    ]);
    expect(t.events.map((e) => e.type).filter((type) => type !== 'extraction_incomplete')).toEqual([
      'browser_opened',
      'login_detected',
      'browser_closed',
      'login_completed',
    ]);
    expect(leaked(slack.issued, t.events, session, c)).toEqual([]);
  });

  it('picks the workspace asked for among the two in localConfig_v2', async () => {
    const t = setup({ workspace: 'T0BBB222' });
    await signIn(await t.user.next());
    const session = await t.signingIn;
    expect(session.account).toBe('T0BBB222');
    expect(
      session.current().accessToken.reveal() === slack.lastBrowserSession()?.tokens.T0BBB222,
    ).toBe(true);
    expect(session.current().metadata.teamName).toBe('Beta');
  });

  it('picks the account the host asks authenticate() for', async () => {
    const t = setup({}, { account: 'T0BBB222' });
    await signIn(await t.user.next());
    const session = await t.signingIn;
    expect(session.account).toBe('T0BBB222');
    expect(
      session.current().accessToken.reveal() === slack.lastBrowserSession()?.tokens.T0BBB222,
    ).toBe(true);
  });

  it('an xoxc token is refused by auth.test without its d cookie, and taken with it', async () => {
    const signin = await fetch(`${slack.url}/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: 'ada@example.com', password: PASSWORD }).toString(),
      redirect: 'manual',
    });
    await signin.body?.cancel();
    const session = slack.lastBrowserSession();
    const check = async (cookie?: string) => {
      const response = await fetch(`${slack.url}/api/auth.test`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(cookie ? { cookie: `d=${encodeURIComponent(cookie)}` } : {}),
        },
        body: new URLSearchParams({ token: session?.tokens.T0AAA111 ?? '' }).toString(),
      });
      // Slack answers HTTP 200 either way.
      expect(response.status).toBe(200);
      return (await response.json()) as { ok: boolean; error?: string };
    };
    expect(await check()).toEqual({ ok: false, error: 'invalid_auth' });
    expect(await check(`xoxd-${'x'.repeat(20)}`)).toEqual({ ok: false, error: 'invalid_auth' });
    expect(await check(session?.cookie)).toMatchObject({ ok: true, team_id: 'T0AAA111' });
  });
});
