import type { BrowserActivity } from '@latchkey/core';
import type { HTTPResponse, Page } from 'puppeteer-core';

/** Stops watching. */
export interface CookieResponseWatch {
  dispose(): void;
}

/** Options of {@link watchCookieResponses}. */
export interface CookieResponseWatchOptions {
  /** The shortest time between two reports while responses keep coming. Default 50 ms. */
  intervalMs?: number;
}

/** The default shortest time between two `cookies_changed` reports. */
const DEFAULT_INTERVAL_MS = 50;

/**
 * Reports `cookies_changed` when a response of the page carries `Set-Cookie`: a
 * `fetch()`, an XHR, a subresource from any origin, a redirect hop or a document, in
 * the top frame, its out-of-process frames, its workers, and the popups it opens
 * (puppeteer's `response` events). The headers are the raw ones of the DevTools
 * protocol's `Network.responseReceivedExtraInfo`, which Chromium sends once the cookies
 * are stored and which include HttpOnly cookies. Nothing of the header is read or
 * passed on: the report only wakes the extraction loop, which reads the cookie jar.
 *
 * The first response is reported at once; while responses keep coming, one report
 * per `intervalMs` at most, the last one after the burst, so a flood of responses
 * costs a few reads of the page, not one per response.
 *
 * @see https://chromedevtools.github.io/devtools-protocol/tot/Network/#event-responseReceivedExtraInfo
 */
export function watchCookieResponses(
  page: Page,
  report: (activity: BrowserActivity) => void,
  options: CookieResponseWatchOptions = {},
): CookieResponseWatch {
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  let disposed = false;
  let lastReportAt = Number.NEGATIVE_INFINITY;
  let pending: NodeJS.Timeout | undefined;
  const fire = () => {
    pending = undefined;
    if (disposed) return;
    lastReportAt = performance.now();
    report({ type: 'cookies_changed' });
  };
  const notice = () => {
    if (disposed || pending !== undefined) return;
    const wait = lastReportAt + intervalMs - performance.now();
    if (wait <= 0) fire();
    else pending = setTimeout(fire, wait);
  };
  const onResponse = (response: HTTPResponse) => {
    // Chromium joins several Set-Cookie headers with newlines, under a lower-case name.
    if (response.headers()['set-cookie'] !== undefined) notice();
  };

  // Each watched page (the sign-in page and its popups) and how to stop watching it.
  const watched = new Map<Page, () => void>();
  const watch = (target: Page) => {
    if (disposed || watched.has(target)) return;
    const onPopup = (popup: Page | null) => {
      if (popup) watch(popup);
    };
    const onClose = () => watched.get(target)?.();
    target.on('response', onResponse);
    target.on('popup', onPopup);
    target.once('close', onClose);
    watched.set(target, () => {
      target.off('response', onResponse);
      target.off('popup', onPopup);
      target.off('close', onClose);
      watched.delete(target);
    });
  };
  watch(page);

  return {
    dispose() {
      disposed = true;
      clearTimeout(pending);
      pending = undefined;
      for (const stop of [...watched.values()]) stop();
    },
  };
}
