// The browser strategy end to end in a real Chromium, driven through puppeteerDriver()
// against a local fake web app, with the test playing the user.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format, inspect } from 'node:util';
import {
  type AuthenticateOptions,
  authenticate,
  isLatchkeyError,
  type LatchkeyEvent,
  memoryStore,
} from '@latchkey/core';
import { launchChromium } from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserProfilePath, type PuppeteerDriverOptions, puppeteerDriver } from '../src/index.js';
import {
  type FakeWebApp,
  type OutsideServer,
  STORAGE_KEY,
  startFakeWebApp,
  startOutsideServer,
} from './fixtures/fake-web-app.js';
import {
  CHROMIUM_ARGS,
  fakeChatProvider,
  fillSignInForm,
  leftovers,
  pageCatcher,
  privateTmpdir,
  temporaryProfiles,
  useTestChromium,
} from './fixtures/harness.js';

let app: FakeWebApp;
let outside: OutsideServer;
let profilesBefore: string[];
let profilesDirectory: string | undefined;

// Everything written to the console or the output streams, for the leak check.
const output: string[] = [];
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

let restoreTmpdir: (() => Promise<void>) | undefined;

beforeAll(async () => {
  await useTestChromium();
  restoreTmpdir = await privateTmpdir();
  outside = await startOutsideServer();
  app = await startFakeWebApp({ outsideUrl: outside.url });
});

afterAll(async () => {
  await app?.close();
  await outside?.close();
  await restoreTmpdir?.();
  const text = output.join('\n');
  expect([...(app?.issued ?? [])].filter((value) => text.includes(value))).toEqual([]);
});

beforeEach(() => {
  profilesBefore = temporaryProfiles();
  app.behaviour = {
    teams: { T0AAA111: 'Alpha' },
    tokenDelayMs: 0,
    withholdToken: false,
    rejectSessions: false,
  };
});

afterEach(async () => {
  const left = await leftovers(profilesBefore, profilesDirectory ? [profilesDirectory] : []);
  if (profilesDirectory) await rm(profilesDirectory, { recursive: true, force: true });
  profilesDirectory = undefined;
  expect(left).toEqual({ processes: [], profiles: [] });
  // Nothing ever reached another address.
  expect(outside.hits).toEqual([]);
});

function setup(driverOptions: PuppeteerDriverOptions = {}) {
  const user = pageCatcher();
  const events: LatchkeyEvent[] = [];
  const driver = puppeteerDriver({
    headless: true,
    args: CHROMIUM_ARGS,
    onPage: user.onPage,
    ...driverOptions,
  });
  const options = (extra: AuthenticateOptions = {}): AuthenticateOptions => ({
    store: memoryStore(),
    browser: driver,
    onEvent: (event) => events.push(event),
    ...extra,
  });
  return {
    user,
    events,
    options,
    types: () => events.map((e) => e.type),
    /** Whether an issued value appears in the events or in `values` (errors, sessions). */
    leaked(...values: unknown[]): string[] {
      const text = [
        JSON.stringify(events),
        ...values.map((v) =>
          format('%O %s', v, v instanceof Error ? `${v.message} ${v.stack}` : ''),
        ),
      ].join('\n');
      return [...app.issued].filter((value) => text.includes(value));
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

describe('puppeteerDriver with a real Chromium', () => {
  it('signs in: HttpOnly cookie, token from localStorage after a route change, user agent, account', async () => {
    const t = setup();
    const provider = fakeChatProvider(app);
    const signingIn = authenticate(provider, t.options());
    const page = await t.user.next();
    await fillSignInForm(page);
    const session = await signingIn;

    const c = session.current();
    const issued = app.lastSession();
    expect(session.account).toBe('T0AAA111');
    expect(c.accessToken.reveal()).toBe(issued?.tokens.T0AAA111);
    expect(c.secrets.d?.reveal()).toBe(issued?.cookie);
    expect(c.metadata.teamName).toBe('Alpha');
    expect(c.metadata.user).toBe('ada');
    // The user agent is the browser's own, and validation sent the same one.
    expect([...app.browserUserAgents]).toEqual([c.metadata.userAgent]);
    expect(app.validationUserAgents).toEqual([c.metadata.userAgent]);
    // The cookie expires in a year: so does the session.
    expect(c.expiresAt).toBeGreaterThan(Date.now() + 300 * 86_400_000);
    // The token may be read together with the cookie or just after it.
    expect(t.types().filter((type) => type !== 'extraction_incomplete')).toEqual([
      'browser_opened',
      'login_detected',
      'browser_closed',
      'login_completed',
    ]);
    expect(t.events[0]).toMatchObject({ origin: app.url });
    expect(t.leaked(session, inspect(c, { depth: 5 }), JSON.stringify(c))).toEqual([]);
  });

  it('waits for a token written a few seconds after the route change, and reacts at once', async () => {
    app.behaviour.tokenDelayMs = 2500;
    const t = setup();
    const signingIn = authenticate(fakeChatProvider(app), t.options());
    await fillSignInForm(await t.user.next());
    const session = await signingIn;
    const resolvedAt = performance.timeOrigin + performance.now();
    const writtenAt = Number(session.current().metadata.writtenAt);
    expect(session.current().accessToken.reveal()).toBe(app.lastSession()?.tokens.T0AAA111);
    // Detected through the storage hook, not a later poll (the window also has to close).
    expect(resolvedAt - writtenAt).toBeLessThan(1500);
    const incomplete = t.events.find((e) => e.type === 'extraction_incomplete');
    expect(incomplete).toMatchObject({
      missing: [`localStorage "${STORAGE_KEY}" at teams.<account>.token`],
    });
  });

  it('picks the requested workspace when the blob holds two', async () => {
    app.behaviour.teams = { T0AAA111: 'Alpha', T0BBB222: 'Beta' };
    const t = setup();
    const signingIn = authenticate(fakeChatProvider(app), t.options({ account: 'T0BBB222' }));
    await fillSignInForm(await t.user.next());
    const session = await signingIn;
    expect(session.account).toBe('T0BBB222');
    expect(session.current().accessToken.reveal()).toBe(app.lastSession()?.tokens.T0BBB222);
    expect(session.current().metadata.teamName).toBe('Beta');
  });

  it('fails with AUTH_CANCELLED when the user closes the window mid-login', async () => {
    const t = setup();
    const signingIn = authenticate(fakeChatProvider(app), t.options());
    const page = await t.user.next();
    await page.waitForSelector('#email', { timeout: 15_000 });
    await page.type('#email', 'ada@');
    await page.close();
    const error = await failure(signingIn);
    expect(isLatchkeyError(error, 'AUTH_CANCELLED')).toBe(true);
    expect(t.types().at(-1)).toBe('browser_closed');
  });

  it('fails with AUTH_CANCELLED when the browser goes away', async () => {
    const t = setup();
    const signingIn = authenticate(fakeChatProvider(app), t.options());
    const page = await t.user.next();
    await page.waitForSelector('#email', { timeout: 15_000 });
    page.browser().process()?.kill('SIGKILL');
    const error = await failure(signingIn);
    expect(isLatchkeyError(error, 'AUTH_CANCELLED')).toBe(true);
  });

  it('fails with AUTH_TIMEOUT when nobody logs in', async () => {
    const t = setup();
    const started = Date.now();
    const error = await failure(
      authenticate(fakeChatProvider(app, { timeoutMs: 2500 }), t.options()),
    );
    expect(isLatchkeyError(error, 'AUTH_TIMEOUT')).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(t.types()).toEqual(['browser_opened', 'browser_closed']);
  });

  it('blocks a redirect and links to hosts outside the allowlist, then signs in', async () => {
    const t = setup();
    const signingIn = authenticate(fakeChatProvider(app), t.options());
    const page = await t.user.next();
    await page.waitForSelector('#help', { timeout: 15_000 });
    const blocked = (origin: string) =>
      new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (t.events.some((e) => e.type === 'navigation_blocked' && e.origin === origin)) {
            clearInterval(check);
            resolve();
          }
        }, 20);
      });
    // A server redirect to another port of 127.0.0.1, a link to it, a link to another host.
    await page.click('#help');
    await blocked(outside.url);
    await page.click('#outside');
    await page.click('#invalid');
    await blocked('https://evil.invalid');
    // The user stayed on the sign-in page and can go on.
    expect(page.url()).toBe(`${app.url}/signin`);
    await fillSignInForm(page);
    await signingIn;
    const origins = t.events.flatMap((e) => (e.type === 'navigation_blocked' ? [e.origin] : []));
    expect(origins).toEqual([outside.url, outside.url, 'https://evil.invalid']);
    expect(JSON.stringify(t.events)).not.toContain('/phish');
    expect(outside.hits).toEqual([]);
  });

  it('fails with EXTRACTION_FAILED naming the missing token when only the cookie arrives', async () => {
    app.behaviour.withholdToken = true;
    const t = setup();
    const signingIn = authenticate(
      fakeChatProvider(app, { incompleteTimeoutMs: 1500 }),
      t.options(),
    );
    await fillSignInForm(await t.user.next());
    const error = await failure(signingIn);
    expect(isLatchkeyError(error, 'EXTRACTION_FAILED')).toBe(true);
    expect(error.message).toContain(`localStorage "${STORAGE_KEY}" at teams.<account>.token`);
    expect(t.leaked(error)).toEqual([]);
  });

  it('fails with INVALID_CREDENTIALS when the service rejects the session', async () => {
    app.behaviour.rejectSessions = true;
    const t = setup();
    const signingIn = authenticate(
      fakeChatProvider(app, { incompleteTimeoutMs: 1500 }),
      t.options(),
    );
    await fillSignInForm(await t.user.next());
    const error = await failure(signingIn);
    expect(isLatchkeyError(error, 'INVALID_CREDENTIALS')).toBe(true);
    expect(t.types()).toContain('credentials_rejected');
    expect(t.leaked(error)).toEqual([]);
  });

  it('signs in through an already running browser, in an isolated context closed afterwards', async () => {
    const running = await launchChromium();
    try {
      const t = setup({ browserWSEndpoint: running.browser.wsEndpoint() });
      const signingIn = authenticate(fakeChatProvider(app), t.options());
      await fillSignInForm(await t.user.next());
      const session = await signingIn;
      expect(session.current().accessToken.reveal()).toBe(app.lastSession()?.tokens.T0AAA111);
      // The browser is still up; its own profile never saw the login; the context is gone.
      expect(running.browser.connected).toBe(true);
      expect(await running.browser.defaultBrowserContext().cookies()).toEqual([]);
      expect(running.browser.browserContexts()).toHaveLength(1);
      expect(await running.browser.pages()).toHaveLength(1);
    } finally {
      await running.close();
    }
  });

  it('reuses a persistent profile: the second sign-in needs no form', async () => {
    profilesDirectory = await mkdtemp(join(tmpdir(), 'latchkey-test-profiles-'));
    const t = setup({ profile: 'persistent', profilesDirectory });
    const provider = fakeChatProvider(app);
    const store = memoryStore();

    const posts = () => app.requests.filter((r) => r === 'POST /signin').length;
    const postsBefore = posts();
    const first = authenticate(provider, t.options({ store, account: 'T0AAA111' }));
    await fillSignInForm(await t.user.next());
    const session = await first;
    const folder = browserProfilePath({
      providerId: 'fake-chat',
      account: 'T0AAA111',
      profilesDirectory,
    });
    expect((await stat(folder)).mode & 0o777).toBe(0o700);

    // A new login (as after an expired session): the app still knows the browser.
    const again = await authenticate(
      provider,
      t.options({ store, account: 'T0AAA111', forceLogin: true }),
    );
    await t.user.next();
    expect(posts() - postsBefore).toBe(1);
    expect(again.current().accessToken.reveal()).toBe(session.current().accessToken.reveal());
  });
});
