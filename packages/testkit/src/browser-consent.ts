import type { Browser, HTTPRequest, HTTPResponse, Page } from 'puppeteer-core';
import { FORM_IDS } from './interaction-pages.js';
import { loopbackUrl } from './loopback-browser.js';

/** Options of {@link completeConsentInBrowser}. */
export interface BrowserConsentOptions {
  /** Username typed into the login form. */
  login: string;
  /** Password typed into the login form (any value is accepted; default 'password'). */
  password?: string;
  /** Give up after this many milliseconds (default 30000). */
  timeoutMs?: number;
}

/** Where the browser landed. */
export interface BrowserConsentOutcome {
  /** HTTP status of the callback page, or 0 when it could not be loaded. */
  status: number;
  /** The callback URL, with `code`/`error`, `state` and `iss`. */
  finalUrl: string;
}

const FORM_SELECTOR = `#${FORM_IDS.loginForm}, #${FORM_IDS.consentForm}`;

/** Most forms submitted before giving up (login and consent, with room for a retry). */
const MAX_FORMS = 6;

function callbackMatcher(authorizationUrl: URL): (url: string) => boolean {
  const redirectUri = authorizationUrl.searchParams.get('redirect_uri');
  const expected = redirectUri ? new URL(redirectUri) : undefined;
  return (value) => {
    const url = URL.parse(value);
    if (!url) {
      return false;
    }
    if (expected) {
      return url.origin === expected.origin && url.pathname === expected.pathname;
    }
    return url.origin !== authorizationUrl.origin && url.protocol === 'http:';
  };
}

function watchCallback(page: Page, isCallback: (url: string) => boolean) {
  return new Promise<BrowserConsentOutcome>((resolve) => {
    page.on('response', (response: HTTPResponse) => {
      if (response.request().isNavigationRequest() && isCallback(response.url())) {
        resolve({ status: response.status(), finalUrl: response.url() });
      }
    });
    page.on('requestfailed', (request: HTTPRequest) => {
      if (request.isNavigationRequest() && isCallback(request.url())) {
        resolve({ status: 0, finalUrl: request.url() });
      }
    });
  });
}

async function submit(page: Page, button: string, remainingMs: number): Promise<void> {
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'domcontentloaded', timeout: remainingMs }).catch(() => {}),
    page.click(button),
  ]);
}

/**
 * Drives a real browser through the 'form' interaction mode: opens the authorization URL,
 * signs in, allows the consent and waits until the browser navigates to the client's loopback
 * redirect URI. Bounded by `timeoutMs`.
 */
export async function completeConsentInBrowser(
  browser: Browser,
  authorizationUrl: string,
  options: BrowserConsentOptions,
): Promise<BrowserConsentOutcome> {
  const start = loopbackUrl(authorizationUrl);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const remaining = () => Math.max(1, deadline - Date.now());
  const page = await browser.newPage();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`browser consent did not reach the callback, last at ${page.url()}`)),
      remaining(),
    );
  });
  try {
    const callback = watchCallback(page, callbackMatcher(start));
    const drive = async (): Promise<BrowserConsentOutcome> => {
      await page.goto(start.href, { waitUntil: 'domcontentloaded', timeout: remaining() });
      for (let forms = 0; forms < MAX_FORMS; forms += 1) {
        const next = await Promise.race([
          callback.then(() => 'done' as const),
          page.waitForSelector(FORM_SELECTOR, { timeout: remaining() }).then(() => 'form' as const),
        ]);
        if (next === 'done') {
          break;
        }
        if (await page.$(`#${FORM_IDS.loginForm}`)) {
          await page.type(`#${FORM_IDS.login}`, options.login);
          await page.type(`#${FORM_IDS.password}`, options.password ?? 'password');
          await submit(page, `#${FORM_IDS.loginSubmit}`, remaining());
        } else {
          await submit(page, `#${FORM_IDS.approve}`, remaining());
        }
      }
      return callback;
    };
    return await Promise.race([drive(), timedOut]);
  } finally {
    clearTimeout(timer);
    await page.close().catch(() => {});
  }
}
