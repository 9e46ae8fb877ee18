import { randomBytes } from 'node:crypto';
import type { BrowserActivity } from '@latchkey/core';
import type { Browser, Frame, Page } from 'puppeteer-core';
import { watchCookieResponses } from './cookie-responses.js';

/** Stops watching. */
export interface ActivityWatch {
  dispose(): void;
}

/**
 * The script injected into every document before the page's own scripts: it wraps
 * the writes of `localStorage`/`sessionStorage` and `document.cookie` so that each one
 * calls the binding at once. It passes no value, only that something changed.
 */
function hookScript(binding: string): string {
  return `(() => {
  const notify = () => { try { globalThis[${JSON.stringify(binding)}]?.(''); } catch {} };
  const proto = Storage.prototype;
  for (const name of ['setItem', 'removeItem', 'clear']) {
    const original = proto[name];
    Object.defineProperty(proto, name, {
      configurable: true, writable: true,
      value: function (...args) { const result = original.apply(this, args); notify(); return result; },
    });
  }
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (cookie && cookie.set) {
    Object.defineProperty(Document.prototype, 'cookie', {
      configurable: true, enumerable: cookie.enumerable, get: cookie.get,
      set(value) { cookie.set.call(this, value); notify(); },
    });
  }
})();`;
}

/**
 * Reports what happens in the page to the extraction loop as it happens: top-level
 * navigations and in-page route changes (`framenavigated`, which puppeteer also fires
 * for `history.pushState`, `replaceState`, `popstate` and hash changes), storage and
 * cookie writes (through an exposed binding), responses that set cookies
 * (`watchCookieResponses`), and the window or browser closing.
 */
export async function watchActivity(
  browser: Browser,
  page: Page,
  report: (activity: BrowserActivity) => void,
): Promise<ActivityWatch> {
  const onNavigated = (frame: Frame) => {
    if (frame === page.mainFrame()) report({ type: 'navigated', url: frame.url() });
  };
  const onClosed = () => report({ type: 'closed' });
  page.on('framenavigated', onNavigated);
  page.on('close', onClosed);
  page.on('error', onClosed);
  browser.on('disconnected', onClosed);
  const binding = `__latchkey_${randomBytes(8).toString('hex')}`;
  await page.exposeFunction(binding, () => {
    report({ type: 'storage_changed' });
  });
  await page.evaluateOnNewDocument(hookScript(binding));
  const cookies = watchCookieResponses(page, report);
  return {
    dispose() {
      cookies.dispose();
      page.off('framenavigated', onNavigated);
      page.off('close', onClosed);
      page.off('error', onClosed);
      browser.off('disconnected', onClosed);
    },
  };
}
