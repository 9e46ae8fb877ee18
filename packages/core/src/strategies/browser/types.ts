import type { Metadata } from '../../credentials.js';
import type { Secret } from '../../secret.js';
import type { BrowserPage } from '../browser-driver.js';
import type { AccountIdentity } from '../common-types.js';

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
 * Reads the page after each navigation, route change, storage write, response that
 * sets cookies, and poll. Returns the {@link Extraction} once the login is complete, a
 * {@link PartialExtraction} when a value was found without its partner, or
 * `undefined` to keep waiting. A thrown `LatchkeyError` ends the sign-in; other errors
 * (the page was navigating) are retried.
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
