// The browser window the `browser` strategy signs in through, as an interaction hook
// like `openUrl`: @latchkey/browser-extract implements it, and so can a host.

/** A cookie as the sign-in browser holds it, HttpOnly ones included. */
export interface BrowserCookie {
  /** The cookie's name. */
  readonly name: string;
  /** The cookie's value, exactly as stored (often URL-encoded). */
  readonly value: string;
  /** The domain as the browser reports it; a leading dot marks a domain cookie (`.slack.com`). */
  readonly domain: string;
  /** The cookie's path. */
  readonly path: string;
  /** Whether page scripts cannot read it (`HttpOnly`). */
  readonly httpOnly: boolean;
  /** Whether it is sent over https only (`Secure`). */
  readonly secure: boolean;
  /** When it expires (epoch ms); absent for a session cookie. */
  readonly expiresAt?: number;
}

/**
 * What an extractor reads the sign-in window through. A {@link BrowserDriver}
 * implements it over its browser (puppeteer, an Electron `BrowserWindow`...).
 */
export interface BrowserPage {
  /** The address of the page the window shows (its top frame). */
  url(): string;
  /** Every cookie of the window's browser profile, HttpOnly ones included. */
  cookies(): Promise<readonly BrowserCookie[]>;
  /** The value under `key` in the current origin's `localStorage`; `undefined` when absent or unreadable. */
  localStorage(key: string): Promise<string | undefined>;
  /** Evaluates a JavaScript expression in the page (awaiting a promise) and returns its JSON-compatible value. */
  evaluate(expression: string): Promise<unknown>;
  /** The browser's real `User-Agent`, which services may bind a session to. */
  userAgent(): Promise<string>;
}

/**
 * What happened in the sign-in window, as a driver reports it. Every report wakes the
 * extraction loop at once, so a driver that reports promptly makes detection immediate;
 * the loop also polls as a fallback.
 */
export type BrowserActivity =
  /** A top-level navigation committed, or the page changed its route in place (`history.pushState`). */
  | { type: 'navigated'; url: string }
  /** The page wrote to its storage or to `document.cookie`. */
  | { type: 'storage_changed' }
  /**
   * The profile's cookies may have changed without a script writing them: a response
   * carried `Set-Cookie` (a `fetch()`, a subresource from any origin, a redirect),
   * HttpOnly cookies included. It only wakes the loop, which reads the cookies again.
   */
  | { type: 'cookies_changed' }
  /** A top-level navigation was refused by {@link BrowserOpenRequest.allowNavigation} and not sent. */
  | { type: 'navigation_blocked'; url: string }
  /** The user closed the window, or the browser went away. */
  | { type: 'closed' };

/** What {@link BrowserDriver.open} is asked to do. */
export interface BrowserOpenRequest {
  /** The address to open: the provider's sign-in page. */
  readonly url: string;
  /** The provider signing in (drivers keep persistent profiles per provider and account). */
  readonly providerId: string;
  /** The account being signed in to, when known (a persistent profile's name). */
  readonly account?: string;
  /**
   * Whether a top-level navigation (in the window or a popup it opens) may go to
   * `url`. The driver must refuse the others before any request is sent, and report
   * them as `navigation_blocked`.
   */
  allowNavigation(url: string): boolean;
  /** Tells the extraction loop what happened in the window. Cheap; call it freely. */
  report(activity: BrowserActivity): void;
  /** Aborts opening; the driver then closes whatever it started. */
  readonly signal: AbortSignal;
}

/** A sign-in window opened by a {@link BrowserDriver}. */
export interface BrowserWindow {
  /** The page the extractor reads. */
  readonly page: BrowserPage;
  /**
   * Closes the window and everything the driver started for it (the browser process,
   * a temporary profile). Safe to call more than once; must not reject.
   */
  close(): Promise<void>;
}

/**
 * Opens sign-in windows for the `browser` strategy. `@latchkey/browser-extract`
 * implements it with puppeteer-core; a host can implement it over its own browser
 * (an Electron `BrowserWindow`, for example).
 */
export interface BrowserDriver {
  /**
   * Opens a window at `request.url` and resolves once the navigation has started.
   * Throws `LatchkeyError` `BROWSER_NOT_FOUND` or `BROWSER_LAUNCH_FAILED` when it cannot.
   */
  open(request: BrowserOpenRequest): Promise<BrowserWindow>;
}
