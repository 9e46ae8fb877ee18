// Session cookies that arrive in a response the page's script asked for (fetch(), an
// image from another origin), with no navigation and no script write, in a real
// Chromium: the driver's network watch must wake the sign-in at once. The strategy
// polls once a minute here, so a sign-in that resolves at all was woken by the watch.
import {
  type AuthenticateOptions,
  authenticate,
  type BrowserActivity,
  type BrowserDriver,
  cookieRule,
  isLatchkeyError,
  memoryStore,
} from '@latchkey/core';
import type { Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { puppeteerDriver } from '../src/index.js';
import {
  type CookieSite,
  type CookieVia,
  cookieSiteProvider,
  startCookieSite,
} from './fixtures/cookie-site.js';
import {
  CHROMIUM_ARGS,
  leftovers,
  pageCatcher,
  privateTmpdir,
  temporaryProfiles,
  useTestChromium,
} from './fixtures/harness.js';

/** Longer than any test: only a report from the driver can wake the loop. */
const NO_POLL = { pollIntervalMs: 60_000, timeoutMs: 20_000 };

let site: CookieSite;
let profilesBefore: string[];
let restoreTmpdir: (() => Promise<void>) | undefined;

beforeAll(async () => {
  await useTestChromium();
  restoreTmpdir = await privateTmpdir();
  site = await startCookieSite();
});

afterAll(async () => {
  await site?.close();
  await restoreTmpdir?.();
});

beforeEach(() => {
  profilesBefore = temporaryProfiles();
});

afterEach(async () => {
  expect(await leftovers(profilesBefore)).toEqual({ processes: [], profiles: [] });
});

const now = () => performance.timeOrigin + performance.now();

/** puppeteerDriver(), with every report it makes recorded, and the page it opened. */
function setup() {
  const user = pageCatcher();
  const reports: BrowserActivity['type'][] = [];
  const inner = puppeteerDriver({ headless: true, args: CHROMIUM_ARGS, onPage: user.onPage });
  const driver: BrowserDriver = {
    open: (request) =>
      inner.open({
        ...request,
        allowNavigation: (url) => request.allowNavigation(url),
        report(activity) {
          reports.push(activity.type);
          request.report(activity);
        },
      }),
  };
  const options = (): AuthenticateOptions => ({ store: memoryStore(), browser: driver });
  return { user, reports, options };
}

/** The listeners the driver could have left on a page. */
const listeners = (page: Page) =>
  ['response', 'popup', 'close', 'framenavigated'].map((event) => page.listenerCount(event));

async function signInVia(via: CookieVia) {
  const t = setup();
  const before = site.sessions.length;
  let detectedAt = Number.POSITIVE_INFINITY;
  const signingIn = authenticate(cookieSiteProvider(site, { via }, NO_POLL), {
    ...t.options(),
    onEvent: (event) => {
      if (event.type === 'login_detected') detectedAt = now();
    },
  });
  const page = await t.user.next();
  const session = await signingIn;
  const resolvedAt = now();
  const sent = site.sessions[before];
  return { ...t, page, session, sent, detectedAt, resolvedAt };
}

describe('session cookies set by responses, in a real Chromium', () => {
  it('notices an HttpOnly session cookie set only by a fetch() response at once, not at the next poll', async () => {
    const { session, sent, reports, resolvedAt, page } = await signInVia('fetch');
    expect(sent?.via).toBe('fetch');
    expect(session.current().accessToken.reveal()).toBe(sent?.value);
    // No navigation or script write came after the page loaded: the response woke the loop.
    expect(reports).toContain('cookies_changed');
    expect(reports).not.toContain('storage_changed');
    expect(resolvedAt - (sent?.sentAt ?? 0)).toBeLessThan(5000);
    // Everything the driver attached to the page is gone.
    expect(listeners(page)).toEqual([0, 0, 0, 0]);
  });

  it('notices a session cookie set by an image from another origin', async () => {
    const { session, sent, reports } = await signInVia('subresource');
    expect(sent?.via).toBe('subresource');
    expect(session.current().accessToken.reveal()).toBe(sent?.value);
    expect(reports).toContain('cookies_changed');
  });

  it('signs in through a flood of responses with malformed Set-Cookie headers, with few wake-ups', async () => {
    const noiseBefore = site.noise;
    const { session, sent, reports, detectedAt } = await signInVia('flood');
    expect(session.current().accessToken.reveal()).toBe(sent?.value);
    // The flood was under way when the session arrived, and did not hold its detection up.
    expect((sent?.noiseBefore ?? 0) - noiseBefore).toBeGreaterThan(0);
    expect(detectedAt - (sent?.sentAt ?? 0)).toBeLessThan(2000);
    // Its responses woke the loop far fewer times than they came.
    const noise = site.noise - noiseBefore;
    const wakeUps = reports.filter((type) => type === 'cookies_changed').length;
    expect(wakeUps).toBeGreaterThan(0);
    expect(wakeUps * 2).toBeLessThan(noise);
  });

  it('detaches from the page when the sign-in times out', async () => {
    const t = setup();
    const provider = cookieSiteProvider(
      site,
      { via: 'fetch', delayMs: 0 },
      {
        ...NO_POLL,
        timeoutMs: 1500,
        extract: { accessToken: cookieRule({ name: 'never-set', domain: '127.0.0.1' }) },
      },
    );
    const signingIn = authenticate(provider, t.options());
    const page = await t.user.next();
    const error = await signingIn.catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'AUTH_TIMEOUT')).toBe(true);
    expect(t.reports).toContain('cookies_changed');
    expect(listeners(page)).toEqual([0, 0, 0, 0]);
  });
});
