import { LoopbackBrowser, loopbackUrl } from './loopback-browser.js';

/** Options of {@link completeAuthorization}. */
export interface CompleteAuthorizationOptions {
  /** Most redirects to follow before giving up (default 20). */
  maxRedirects?: number;
  /** Timeout of each single request in milliseconds (default 10000). */
  requestTimeoutMs?: number;
}

/** Where the unattended user ended up. */
export interface AuthorizationOutcome {
  /** Status of the last response (normally the client's loopback callback). */
  status: number;
  /** URL of the last request, e.g. `http://127.0.0.1:PORT/callback?code=...&state=...&iss=...`. */
  finalUrl: string;
}

/**
 * An unattended user: GETs the authorization URL and follows every redirect with a cookie jar
 * until a non-redirect response, which with the 'auto' interaction mode is the client's
 * redirect_uri. Only 127.0.0.1 is ever contacted; anything else throws.
 */
export async function completeAuthorization(
  url: string,
  options: CompleteAuthorizationOptions = {},
): Promise<AuthorizationOutcome> {
  const maxRedirects = options.maxRedirects ?? 20;
  const browser = new LoopbackBrowser(options.requestTimeoutMs);
  let target = loopbackUrl(url);
  for (let redirects = 0; redirects <= maxRedirects; redirects += 1) {
    const response = await browser.request(target);
    if (!response.location) {
      return { status: response.status, finalUrl: response.url.href };
    }
    target = loopbackUrl(response.location);
  }
  throw new Error(`gave up after ${maxRedirects} redirects, next was ${target.href}`);
}
