import { CookieJar } from './cookie-jar.js';
import { LOOPBACK_HOST } from './loopback-redirects.js';

/** Default per-request timeout of the unattended user agent. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Parses `value` and throws unless it is an http(s) URL on 127.0.0.1. */
export function loopbackUrl(value: string | URL, base?: string | URL): URL {
  const url = new URL(value, base);
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname !== LOOPBACK_HOST) {
    throw new Error(`refusing to fetch ${url.href}: only ${LOOPBACK_HOST} may be contacted`);
  }
  return url;
}

/** One request of the unattended user agent. */
export interface BrowserRequest {
  method?: 'GET' | 'POST';
  /** Sent as an application/x-www-form-urlencoded body. */
  form?: URLSearchParams;
}

/** A response that has been read in full. */
export interface BrowserResponse {
  url: URL;
  status: number;
  location: URL | undefined;
  body: string;
}

/** A cookie-keeping HTTP client that only talks to 127.0.0.1 and never follows redirects itself. */
export class LoopbackBrowser {
  readonly #jar = new CookieJar();
  readonly #timeoutMs: number;

  constructor(timeoutMs = REQUEST_TIMEOUT_MS) {
    this.#timeoutMs = timeoutMs;
  }

  /** Performs one request, storing cookies, and resolves the Location header if any. */
  async request(target: string | URL, init: BrowserRequest = {}): Promise<BrowserResponse> {
    const url = loopbackUrl(target);
    const headers: Record<string, string> = {
      accept: 'text/html,application/json;q=0.9,*/*;q=0.8',
    };
    const cookie = this.#jar.header(url);
    if (cookie) {
      headers.cookie = cookie;
    }
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      headers,
      body: init.form?.toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    this.#jar.store(url, response.headers.getSetCookie());
    const body = await response.text();
    const rawLocation = response.headers.get('location');
    const redirect = response.status >= 300 && response.status < 400 && rawLocation;
    return {
      url,
      status: response.status,
      location: redirect ? new URL(rawLocation, url) : undefined,
      body,
    };
  }
}
