import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  type AuthProvider,
  authenticate,
  type BrowserStrategyDefinition,
  type BrowserValidateContext,
  cookieRule,
  defineProvider,
  isLatchkeyError,
  type LatchkeyEvent,
  localStorageJsonRule,
  memoryStore,
  signInWithBrowser,
} from '../src/index.js';
import { createEngine } from '../src/strategies/registry.js';
import { FAKE_USER_AGENT, type FakeBrowser, fakeBrowser } from './fixtures/fake-browser.js';

const TOKEN = 'tok-canary-4b1d7c0e9f2a';
const OTHER_TOKEN = 'tok-canary-other-77aa31';
const COOKIE = 'xd-canary-cookie-5e8f0a2b';
const CANARIES = [TOKEN, OTHER_TOKEN, COOKIE];

function chatProvider(strategy: Partial<BrowserStrategyDefinition> = {}): AuthProvider {
  return defineProvider({
    id: 'fake-chat',
    name: 'Fake Chat',
    strategy: {
      kind: 'browser',
      startUrl: 'https://chat.example/signin',
      allowedHosts: ['chat.example', '*.chat.example'],
      extract: {
        accessToken: localStorageJsonRule({
          key: 'localConfig',
          path: 'teams.*.token',
          pattern: /^tok-/,
        }),
        secrets: { d: cookieRule({ name: 'd', domain: 'chat.example', httpOnly: true }) },
        metadata: { teamName: localStorageJsonRule({ key: 'localConfig', path: 'teams.*.name' }) },
      },
      incompleteTimeoutMs: 400,
      pollIntervalMs: 50,
      ...strategy,
    },
  });
}

const blob = (teams: Record<string, { token?: string; name: string }>) => JSON.stringify({ teams });

/** The user logs in: the cookie arrives with the sign-in response, the token a little later. */
async function logIn(fake: FakeBrowser, teams = { T1: { token: TOKEN, name: 'One' } }) {
  await fake.whenOpen();
  fake.setCookie({ name: 'd', value: COOKIE, domain: '.chat.example' });
  fake.navigate('https://app.chat.example/client');
  await new Promise((r) => setTimeout(r, 20));
  fake.pushState('/client/T1');
  fake.setItem('localConfig', blob(teams));
}

function watch() {
  const events: LatchkeyEvent[] = [];
  return {
    events,
    onEvent: (event: LatchkeyEvent) => events.push(event),
    types: () => events.map((e) => e.type),
    /** Everything that could carry a secret, for the canary check. */
    leaks(...also: unknown[]): string[] {
      const text = [JSON.stringify(events), ...also.map((v) => inspect(v, { depth: 10 }))].join();
      const more = also.map((v) => (v instanceof Error ? `${v.message}${v.stack}` : '')).join();
      return CANARIES.filter((c) => text.includes(c) || more.includes(c));
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

describe('browser sign-in loop (fake driver)', () => {
  it('signs in again in the profile the first login used, even when it named no account', async () => {
    const fake = fakeBrowser();
    const provider = chatProvider({ validate: () => ({ account: 'T1@chat' }) });
    const store = memoryStore();
    const first = logIn(fake);
    const session = await authenticate(provider, { store, browser: fake.driver });
    await first;
    // The stored login has stopped working: the next sign-in replaces it.
    const engine = createEngine(provider, { store, emit: () => {} });
    const second = logIn(fake);
    await engine.signIn({
      interaction: { browser: fake.driver },
      scopes: [],
      previous: session.current(),
      signal: AbortSignal.timeout(20_000),
      emit: () => {},
    });
    await second;
    expect(fake.profiles).toEqual([undefined, undefined]);
  });

  it('stores the token, the cookie, the user agent and the validated account', async () => {
    const fake = fakeBrowser();
    const seen: BrowserValidateContext[] = [];
    const provider = chatProvider({
      validate: (ctx) => {
        seen.push(ctx);
        return ctx.accessToken.reveal() === TOKEN && ctx.secrets.d?.reveal() === COOKIE
          ? { account: 'T1@chat', metadata: { user: 'ada' } }
          : false;
      },
    });
    const w = watch();
    const store = memoryStore();
    const login = logIn(fake);
    const session = await authenticate(provider, {
      store,
      browser: fake.driver,
      onEvent: w.onEvent,
    });
    await login;
    const c = session.current();
    expect(c.account).toBe('T1@chat');
    expect(c.accessToken.reveal()).toBe(TOKEN);
    expect(c.secrets.d?.reveal()).toBe(COOKIE);
    expect(c.metadata).toEqual({
      teamName: 'One',
      user: 'ada',
      userAgent: FAKE_USER_AGENT,
    });
    expect(c.engine).toEqual({ kind: 'browser', profile: '' });
    expect(c.scopes).toEqual([]);
    expect(seen[0]?.userAgent).toBe(FAKE_USER_AGENT);
    expect(seen[0]?.account).toBe('T1');
    expect(fake.opened).toBe(1);
    expect(fake.closed).toBe(1);
    expect(w.types()).toEqual([
      'browser_opened',
      'extraction_incomplete',
      'login_detected',
      'browser_closed',
      'login_completed',
    ]);
    expect(w.events[0]).toMatchObject({ origin: 'https://chat.example', providerId: 'fake-chat' });
    expect(w.events[1]).toMatchObject({
      missing: ['localStorage "localConfig" at teams.<account>.token'],
    });
    expect(await store.list()).toEqual(['credentials/fake-chat/T1%40chat']);
    expect(w.leaks(session, JSON.stringify(session))).toEqual([]);

    // The stored login is reused without a browser.
    const again = await authenticate(provider, { store });
    expect(again.current().accessToken.reveal()).toBe(TOKEN);
  });

  it('picks the requested account among several in one blob', async () => {
    const fake = fakeBrowser();
    const login = logIn(fake, {
      T1: { token: OTHER_TOKEN, name: 'One' },
      T2: { token: TOKEN, name: 'Two' },
    } as never);
    const session = await authenticate(chatProvider(), {
      store: memoryStore(),
      browser: fake.driver,
      account: 'T2',
    });
    await login;
    expect(session.account).toBe('T2');
    expect(session.current().accessToken.reveal()).toBe(TOKEN);
    expect(session.current().metadata.teamName).toBe('Two');
    expect(fake.request?.account).toBe('T2');
  });

  it('fails with ACCOUNT_AMBIGUOUS when several accounts are found and none was asked for', async () => {
    const fake = fakeBrowser();
    const login = logIn(fake, {
      T1: { token: OTHER_TOKEN, name: 'One' },
      T2: { token: TOKEN, name: 'Two' },
    } as never);
    const error = await failure(
      authenticate(chatProvider(), { store: memoryStore(), browser: fake.driver }),
    );
    await login;
    expect(isLatchkeyError(error, 'ACCOUNT_AMBIGUOUS')).toBe(true);
    expect(error.message).toContain('T1, T2');
    expect(fake.closed).toBe(1);
  });

  it('keeps waiting for a partner, then fails with EXTRACTION_FAILED naming only what is missing', async () => {
    const fake = fakeBrowser();
    const w = watch();
    const started = Date.now();
    const run = authenticate(chatProvider(), {
      store: memoryStore(),
      browser: fake.driver,
      onEvent: w.onEvent,
    });
    await fake.whenOpen();
    fake.setCookie({ name: 'd', value: COOKIE, domain: '.chat.example' });
    fake.navigate('https://app.chat.example/client');
    const error = await failure(run);
    expect(isLatchkeyError(error, 'EXTRACTION_FAILED')).toBe(true);
    expect(error.message).toContain(
      'localStorage "localConfig" at teams.<account>.token is missing',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(fake.closed).toBe(1);
    expect(w.leaks(error)).toEqual([]);
  });

  it('takes a token written a while after the cookie, within the incomplete timeout', async () => {
    const fake = fakeBrowser();
    const run = authenticate(chatProvider({ incompleteTimeoutMs: 5000 }), {
      store: memoryStore(),
      browser: fake.driver,
    });
    await fake.whenOpen();
    fake.setCookie({ name: 'd', value: COOKIE, domain: '.chat.example' });
    fake.navigate('https://app.chat.example/client');
    await new Promise((r) => setTimeout(r, 600));
    fake.setItem('localConfig', blob({ T1: { token: TOKEN, name: 'One' } }));
    const session = await run;
    expect(session.account).toBe('T1');
  });

  it('does not take a value that does not match the rule pattern', async () => {
    const fake = fakeBrowser();
    const run = authenticate(chatProvider({ timeoutMs: 600 }), {
      store: memoryStore(),
      browser: fake.driver,
    });
    await fake.whenOpen();
    fake.setItem('localConfig', blob({ T1: { token: 'placeholder', name: 'One' } }));
    const error = await failure(run);
    expect(isLatchkeyError(error, 'AUTH_TIMEOUT')).toBe(true);
  });

  it('reacts to a storage write at once, without waiting for the poll', async () => {
    const fake = fakeBrowser();
    const run = authenticate(chatProvider({ pollIntervalMs: 60_000 }), {
      store: memoryStore(),
      browser: fake.driver,
    });
    await fake.whenOpen();
    fake.setCookie({ name: 'd', value: COOKIE, domain: '.chat.example' });
    await new Promise((r) => setTimeout(r, 50));
    const written = Date.now();
    fake.setItem('localConfig', blob({ T1: { token: TOKEN, name: 'One' } }));
    await run;
    expect(Date.now() - written).toBeLessThan(200);
  });

  it('reacts at once to a cookie set by a fetch() response (cookies_changed), without waiting for the poll', async () => {
    const fake = fakeBrowser();
    const run = authenticate(chatProvider({ pollIntervalMs: 60_000 }), {
      store: memoryStore(),
      browser: fake.driver,
    });
    await fake.whenOpen();
    fake.setItem('localConfig', blob({ T1: { token: TOKEN, name: 'One' } }));
    await new Promise((r) => setTimeout(r, 50));
    // The cookie lands in the jar with no navigation and no script write; the driver
    // saw the response's Set-Cookie header.
    const readsBefore = fake.reads;
    fake.setCookie({ name: 'd', value: COOKIE, domain: '.chat.example' });
    const set = Date.now();
    fake.request?.report({ type: 'cookies_changed' });
    const session = await run;
    expect(Date.now() - set).toBeLessThan(200);
    expect(fake.reads).toBe(readsBefore + 1);
    expect(session.current().secrets.d?.reveal()).toBe(COOKIE);
  });

  it('fails with INVALID_CREDENTIALS when the service rejects the session', async () => {
    const fake = fakeBrowser();
    const w = watch();
    let calls = 0;
    const run = authenticate(
      chatProvider({
        validate: () => {
          calls += 1;
          return false;
        },
      }),
      { store: memoryStore(), browser: fake.driver, onEvent: w.onEvent },
    );
    await logIn(fake);
    const error = await failure(run);
    expect(isLatchkeyError(error, 'INVALID_CREDENTIALS')).toBe(true);
    expect(calls).toBe(1); // the same values are not checked again
    expect(w.types()).toContain('credentials_rejected');
    expect(fake.closed).toBe(1);
    expect(w.leaks(error)).toEqual([]);
  });

  it('turns a validate() crash into NETWORK_ERROR without the values it was given', async () => {
    const fake = fakeBrowser();
    const run = authenticate(
      chatProvider({
        validate: ({ accessToken }) => {
          throw new Error(`GET https://api.chat.example/?token=${accessToken.reveal()} failed`);
        },
      }),
      { store: memoryStore(), browser: fake.driver },
    );
    await logIn(fake);
    const error = await failure(run);
    expect(isLatchkeyError(error, 'NETWORK_ERROR')).toBe(true);
    expect(String((error.cause as Error).message)).toContain('token=[redacted]');
    expect(watch().leaks(error)).toEqual([]);
    expect(fake.closed).toBe(1);
  });

  it('waits for a new login after a stale session is rejected (persistent profile)', async () => {
    const fake = fakeBrowser({
      cookies: [
        {
          name: 'd',
          value: COOKIE,
          domain: '.chat.example',
          path: '/',
          httpOnly: true,
          secure: true,
        },
      ],
      storage: { localConfig: blob({ T1: { token: OTHER_TOKEN, name: 'One' } }) },
    });
    const run = authenticate(
      chatProvider({
        incompleteTimeoutMs: 2000,
        validate: ({ accessToken }) => (accessToken.reveal() === TOKEN ? { account: 'T1' } : false),
      }),
      { store: memoryStore(), browser: fake.driver },
    );
    await fake.whenOpen();
    await new Promise((r) => setTimeout(r, 100));
    fake.setItem('localConfig', blob({ T1: { token: TOKEN, name: 'One' } }));
    const session = await run;
    expect(session.current().accessToken.reveal()).toBe(TOKEN);
  });

  it('fails with AUTH_CANCELLED when the user closes the window', async () => {
    const fake = fakeBrowser();
    const w = watch();
    const run = authenticate(chatProvider(), {
      store: memoryStore(),
      browser: fake.driver,
      onEvent: w.onEvent,
    });
    await fake.whenOpen();
    fake.closeWindow();
    const error = await failure(run);
    expect(isLatchkeyError(error, 'AUTH_CANCELLED')).toBe(true);
    expect(error.message).toContain('window was closed');
    expect(w.types().at(-1)).toBe('browser_closed');
  });

  it('fails with AUTH_TIMEOUT when nobody logs in, and closes the window', async () => {
    const fake = fakeBrowser();
    const error = await failure(
      authenticate(chatProvider({ timeoutMs: 300 }), {
        store: memoryStore(),
        browser: fake.driver,
      }),
    );
    expect(isLatchkeyError(error, 'AUTH_TIMEOUT')).toBe(true);
    expect(fake.closed).toBe(1);
  });

  it("uses authenticate()'s shorter timeoutMs", async () => {
    const fake = fakeBrowser();
    const started = Date.now();
    const error = await failure(
      authenticate(chatProvider(), { store: memoryStore(), browser: fake.driver, timeoutMs: 300 }),
    );
    expect(isLatchkeyError(error, 'AUTH_TIMEOUT')).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(fake.closed).toBe(1);
  });

  it('fails with AUTH_CANCELLED on the host signal, and closes the window', async () => {
    const fake = fakeBrowser();
    const controller = new AbortController();
    const run = authenticate(chatProvider(), {
      store: memoryStore(),
      browser: fake.driver,
      signal: controller.signal,
    });
    await fake.whenOpen();
    controller.abort();
    const error = await failure(run);
    expect(isLatchkeyError(error, 'AUTH_CANCELLED')).toBe(true);
    expect(fake.closed).toBe(1);
  });

  it('blocks navigation outside the allowlist and reports only the origin', async () => {
    const fake = fakeBrowser();
    const w = watch();
    const run = authenticate(chatProvider(), {
      store: memoryStore(),
      browser: fake.driver,
      onEvent: w.onEvent,
    });
    await fake.whenOpen();
    expect(fake.navigate(`https://evil.example/steal?d=${COOKIE}`)).toBe(false);
    expect(fake.navigate('http://app.chat.example/plain')).toBe(false);
    await logIn(fake);
    await run;
    const blocked = w.events.filter((e) => e.type === 'navigation_blocked');
    expect(blocked).toEqual([
      { type: 'navigation_blocked', providerId: 'fake-chat', origin: 'https://evil.example' },
      { type: 'navigation_blocked', providerId: 'fake-chat', origin: 'http://app.chat.example' },
    ]);
    expect(w.leaks()).toEqual([]);
  });

  it('turns a driver failure into BROWSER_LAUNCH_FAILED and passes LatchkeyErrors through', async () => {
    const broken = fakeBrowser({ openError: new Error('spawn ENOENT') });
    const error = await failure(
      authenticate(chatProvider(), { store: memoryStore(), browser: broken.driver }),
    );
    expect(isLatchkeyError(error, 'BROWSER_LAUNCH_FAILED')).toBe(true);
  });

  it('closes a window that opens after the sign-in was cancelled', async () => {
    const fake = fakeBrowser({ openDelayMs: 200 });
    const controller = new AbortController();
    const run = authenticate(chatProvider(), {
      store: memoryStore(),
      browser: fake.driver,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    const error = await failure(run);
    expect(isLatchkeyError(error, 'AUTH_CANCELLED')).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.opened).toBe(1);
    expect(fake.closed).toBe(1);
  });

  it('throws a TypeError without a driver, and for scopes', async () => {
    await expect(authenticate(chatProvider(), { store: memoryStore() })).rejects.toThrow(TypeError);
    await expect(
      authenticate(chatProvider(), {
        store: memoryStore(),
        browser: fakeBrowser().driver,
        scopes: ['read'],
      }),
    ).rejects.toThrow(TypeError);
  });

  it('never refreshes: an expired cookie session asks for a new login', async () => {
    const fake = fakeBrowser();
    const store = memoryStore();
    const provider = chatProvider();
    const run = authenticate(provider, { store, browser: fake.driver });
    await fake.whenOpen();
    fake.setCookie({
      name: 'd',
      value: COOKIE,
      domain: '.chat.example',
      expiresAt: Date.now() + 30_000,
    });
    fake.setItem('localConfig', blob({ T1: { token: TOKEN, name: 'One' } }));
    const session = await run;
    expect(session.current().expiresAt).toBeGreaterThan(Date.now());
    // Asked for more validity than the cookie has left: only a new login helps.
    const error = await failure(session.fresh({ minValidityMs: 60_000 }));
    expect(isLatchkeyError(error, 'REAUTH_REQUIRED')).toBe(true);
    expect(error.message).toContain('Sign in again');
    expect(await store.list()).toEqual([]);
    expect(await session.logout()).toEqual({ revoked: false });
  });

  it('signInWithBrowser() returns credentials without storing them', async () => {
    const fake = fakeBrowser();
    const events: LatchkeyEvent[] = [];
    const login = logIn(fake);
    const credentials = await signInWithBrowser(chatProvider(), {
      driver: fake.driver,
      onEvent: (e) => events.push(e),
    });
    await login;
    expect(credentials.account).toBe('T1');
    expect(credentials.providerId).toBe('fake-chat');
    expect(events.every((e) => 'providerId' in e && e.providerId === 'fake-chat')).toBe(true);
  });

  it('accepts a custom extractor that reports what is missing', async () => {
    const fake = fakeBrowser();
    const provider = chatProvider({
      extract: async (page) => {
        const token = await page.localStorage('token');
        const url = page.url();
        if (!url.includes('/client/')) return token ? { missing: ['the client page'] } : undefined;
        return token ? { accessToken: token, account: url.split('/').pop() as string } : undefined;
      },
    });
    const run = authenticate(provider, { store: memoryStore(), browser: fake.driver });
    await fake.whenOpen();
    fake.setItem('token', TOKEN);
    fake.pushState('/client/T9');
    const session = await run;
    expect(session.account).toBe('T9');
    expect(session.current().secrets).toEqual({});
  });
});
