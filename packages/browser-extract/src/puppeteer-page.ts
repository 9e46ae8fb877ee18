import type { BrowserCookie, BrowserPage } from '@latchkey/core';
import type { Browser, Page } from 'puppeteer-core';

/**
 * The `BrowserPage` of a puppeteer page: cookies of its whole browser context
 * through the DevTools protocol (HttpOnly ones included), `localStorage` of the
 * current origin, expressions evaluated in the top frame, and the browser's own
 * User-Agent.
 */
export function puppeteerPage(browser: Browser, page: Page): BrowserPage {
  let userAgent: Promise<string> | undefined;
  return {
    url: () => page.url(),
    async cookies(): Promise<BrowserCookie[]> {
      const cookies = await page.browserContext().cookies();
      return cookies.map((c) => ({
        name: c.name,
        value: c.value,
        domain: c.domain,
        path: c.path,
        httpOnly: c.httpOnly === true,
        secure: c.secure,
        ...(c.session || c.expires < 0 ? {} : { expiresAt: Math.round(c.expires * 1000) }),
      }));
    },
    async localStorage(key) {
      const value = await page.evaluate((k: string) => {
        try {
          return window.localStorage.getItem(k);
        } catch {
          return null;
        }
      }, key);
      return value ?? undefined;
    },
    evaluate: (expression) => page.evaluate(expression),
    userAgent() {
      userAgent ??= browser.userAgent();
      return userAgent;
    },
  };
}
