import type { Metadata } from '../../credentials.js';
import type { Secret } from '../../secret.js';
import type { AccountIdentity } from '../common-types.js';

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

/** What an {@link Extractor} is told besides the page. */
export interface ExtractContext {
  /** The account the host asked for (a workspace id, for example), to pick among several. */
  readonly account?: string;
  /** Aborts when the sign-in ends. */
  readonly signal: AbortSignal;
}

/** Everything a completed browser sign-in yields. Latchkey wraps the values in {@link Secret}s. */
export interface Extraction {
  /** The primary secret (a session token), stored as the access token. */
  accessToken: string | Secret;
  /** The values that go with it (session cookies, for example). */
  secrets?: Record<string, string | Secret>;
  /** Non-secret values to keep (a team name, a workspace URL). */
  metadata?: Record<string, string | number | boolean>;
  /** The account, when the page names it; `validate` may name it instead. */
  account?: string;
  /** When the session ends (epoch ms), for example the earliest expiry of its cookies. */
  expiresAt?: number;
  /** How the token is sent; default `bearer`. */
  tokenType?: string;
}

/** Some of the values were found, but not all: the loop keeps waiting for the rest. */
export interface PartialExtraction {
  /** What is still missing, as descriptions (`cookie "d" on slack.com`), never values. */
  readonly missing: readonly string[];
}

/**
 * Reads the page after each navigation, route change, storage write and poll. Returns
 * the {@link Extraction} once the login is complete, a {@link PartialExtraction} when
 * a value was found without its partner, or `undefined` to keep waiting. A thrown
 * `LatchkeyError` ends the sign-in; other errors (the page was navigating) are retried.
 */
export type Extractor = (
  page: BrowserPage,
  context: ExtractContext,
) =>
  | Promise<Extraction | PartialExtraction | undefined>
  | Extraction
  | PartialExtraction
  | undefined;

/** What a browser strategy's `validate` hook gets: the values found, and a way to call the service. */
export interface BrowserValidateContext {
  /** The primary secret found. */
  readonly accessToken: Secret;
  /** The other secrets found. */
  readonly secrets: Readonly<Record<string, Secret>>;
  /** Non-secret values found. */
  readonly metadata: Metadata;
  /** The account the extractor named, if any. */
  readonly account?: string;
  /** The browser's User-Agent: send it with the check, as services may bind the session to it. */
  readonly userAgent: string;
  /** The `fetch` the host configured. */
  readonly fetch: typeof fetch;
  /** Aborts when the sign-in ends. */
  readonly signal: AbortSignal;
}

/**
 * Checks the values found with one call to the service. Returns the account (and
 * non-secret details) when they work, `false` when the service rejects them.
 */
export type BrowserValidator = (
  context: BrowserValidateContext,
) => Promise<AccountIdentity | false> | AccountIdentity | false;

/**
 * The `browser` strategy: the user logs in to the service's web app in a real browser
 * window, and Latchkey reads the session the app keeps (cookies, localStorage, page
 * state) once the login is complete.
 */
export interface BrowserStrategy {
  readonly kind: 'browser';
  /** The sign-in page the window opens. */
  readonly startUrl: string;
  /** Hosts top-level navigations may go to (`slack.com`, `*.slack.com`, `127.0.0.1:8080`); others are blocked. */
  readonly allowedHosts: readonly string[];
  /** Reads the session from the page. */
  readonly extract: Extractor;
  /** Checks the session with the service and names the account. */
  readonly validate?: BrowserValidator;
  /** How long the user has to log in; `authenticate()`'s `timeoutMs` may shorten it. */
  readonly timeoutMs: number;
  /**
   * How long the loop keeps waiting once it found values it cannot use yet (part of
   * the session, or a session the service rejected) before it gives up with
   * `EXTRACTION_FAILED` or `INVALID_CREDENTIALS`. Every navigation restarts it.
   */
  readonly incompleteTimeoutMs: number;
  /** How often the page is read when nothing is reported (a fallback). */
  readonly pollIntervalMs: number;
  /** Always empty: a browser session has no scopes. */
  readonly scopes: readonly string[];
}
