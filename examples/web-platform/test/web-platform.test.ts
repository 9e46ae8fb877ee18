// The web platform example in a real Chromium: two users in two browser contexts sign in
// to the app, connect accounts through the app's own callback (typing their names on the
// authorization servers' login pages), see only their own accounts, run an MCP server
// with their login, and cannot use each other's callback.
import { FORM_IDS, type LaunchedChromium, launchChromium } from '@latchkey/testkit';
import type { BrowserContext, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPlatform, startPlatform } from '../src/platform.js';

let platform: RunningPlatform;
let chromium: LaunchedChromium;

beforeAll(async () => {
  platform = await startPlatform({ interaction: 'form' });
  chromium = await launchChromium();
}, 120_000);
afterAll(async () => {
  await chromium?.close();
  await platform?.close();
});

async function click(page: Page, selector: string): Promise<void> {
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'domcontentloaded' }),
    page.click(selector),
  ]);
}

async function text(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (element) => element.textContent ?? '');
}

/** The accounts the home page lists, as `provider: account`. */
async function listed(page: Page): Promise<string[]> {
  await page.goto(platform.url, { waitUntil: 'domcontentloaded' });
  return page.$$eval('#accounts li', (items) =>
    items.map((li) => `${li.getAttribute('data-provider')}: ${li.getAttribute('data-account')}`),
  );
}

/** Signs in to the app itself with a name. */
async function signInToApp(context: BrowserContext, name: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(platform.url, { waitUntil: 'domcontentloaded' });
  await page.type('#user', name);
  await click(page, '#sign-in');
  expect(await text(page, '#user')).toBe(name);
  return page;
}

/**
 * Connects a provider: the button, then the authorization server's login and consent
 * pages, back through the app's callback. Returns the callback URL the browser visited.
 */
async function connect(page: Page, providerId: string, login: string): Promise<string> {
  let callback = '';
  const watch = (request: { url(): string; isNavigationRequest(): boolean }) => {
    if (request.isNavigationRequest() && request.url().startsWith(`${platform.url}/callback/`)) {
      callback = request.url();
    }
  };
  page.on('request', watch);
  try {
    await click(page, `#connect-${providerId}`);
    await page.waitForSelector(`#${FORM_IDS.login}`);
    await page.type(`#${FORM_IDS.login}`, login);
    await page.type(`#${FORM_IDS.password}`, 'any password');
    await click(page, `#${FORM_IDS.loginSubmit}`);
    await page.waitForSelector(`#${FORM_IDS.approve}`);
    await click(page, `#${FORM_IDS.approve}`);
    await page.waitForSelector('#notice');
  } finally {
    page.off('request', watch);
  }
  expect(callback).not.toBe('');
  return callback;
}

describe('the web platform example in Chromium', () => {
  it('signs two users in, each connecting accounts and seeing only their own', async () => {
    const annContext = await chromium.browser.createBrowserContext();
    const bobContext = await chromium.browser.createBrowserContext();
    try {
      const ann = await signInToApp(annContext, 'ann');
      const bob = await signInToApp(bobContext, 'bob');
      expect(await ann.$('#no-accounts')).not.toBeNull();

      const annCallback = await connect(ann, 'example-id', 'ann');
      expect(await text(ann, '#notice')).toBe('Connected Example ID: ann@example.test');
      await connect(ann, 'example-mcp', 'ann');
      await connect(bob, 'example-id', 'bob');

      expect((await listed(ann)).sort()).toEqual([
        'example-id: ann@example.test',
        expect.stringMatching(/^example-mcp: 127\.0\.0\.1:\d+$/),
      ]);
      expect(await listed(bob)).toEqual(['example-id: bob@example.test']);

      // Each run uses that user's own login: the userinfo endpoint names whom the token is for.
      await bob.goto(platform.url, { waitUntil: 'domcontentloaded' });
      await click(bob, 'li[data-account="bob@example.test"] button.run');
      expect(await text(bob, '#tool-result')).toBe('bob@example.test');
      await ann.goto(platform.url, { waitUntil: 'domcontentloaded' });
      await click(ann, 'li[data-provider="example-mcp"] button.run');
      expect(await text(ann, '#tool-result')).toMatch(/^read-thing done for /);

      // Ann's callback, brought by Bob's browser or replayed by Ann's, is refused and
      // changes nothing.
      await bob.goto(annCallback, { waitUntil: 'domcontentloaded' });
      expect(await text(bob, '#error-code')).toBe('STATE_MISMATCH');
      await ann.goto(annCallback, { waitUntil: 'domcontentloaded' });
      expect(await text(ann, '#error-code')).toBe('STATE_MISMATCH');
      expect(await listed(bob)).toEqual(['example-id: bob@example.test']);
      expect(await listed(ann)).toHaveLength(2);

      // Disconnecting removes the login of that user only.
      await click(ann, 'li[data-provider="example-mcp"] button.disconnect');
      expect(await listed(ann)).toEqual(['example-id: ann@example.test']);
      expect(await listed(bob)).toEqual(['example-id: bob@example.test']);
    } finally {
      await annContext.close();
      await bobContext.close();
    }
  });

  it('sends a browser without an app session to the sign-in page, not to a provider', async () => {
    const context = await chromium.browser.createBrowserContext();
    try {
      const page = await context.newPage();
      await page.goto(`${platform.url}/callback/example-id?code=x&state=y`, {
        waitUntil: 'domcontentloaded',
      });
      expect(new URL(page.url()).pathname).toBe('/');
      expect(await page.$('#sign-in')).not.toBeNull();
    } finally {
      await context.close();
    }
  });
});
