import { LoopbackBrowser, loopbackUrl } from './loopback-browser.js';
import { ERROR_ID } from './provider-pages.js';

/**
 * Where an unattended user reports an error page, as a host watching its sign-in window
 * would: the second argument Latchkey gives `openUrl` fits.
 */
export interface ErrorPageReporter {
  /** Called once, with the page's HTTP status and the error text it shows. */
  reportError(detail?: { status?: number; message?: string }): void;
}

/** Options of {@link completeAuthorization}. */
export interface CompleteAuthorizationOptions {
  /** Most redirects to follow before giving up (default 20). */
  maxRedirects?: number;
  /** Timeout of each single request in milliseconds (default 10000). */
  requestTimeoutMs?: number;
  /**
   * Told when the authorization server (the origin of the authorization URL) answers with
   * an HTTP error page (status 400 or more) instead of a redirect: pass the `page`
   * Latchkey gives `openUrl`. Error pages elsewhere, such as the client's own callback
   * refusing a response, are not reported: the browser did come back there.
   */
  page?: ErrorPageReporter;
  /**
   * A web app's redirect URI: a redirect to an address that starts with it is where the
   * user ends, returned as `finalUrl` (status 302) without being requested, so the
   * redirect URI may be any host, as a web app's is.
   */
  stopAt?: string;
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
  const authorizationServer = target.origin;
  for (let redirects = 0; redirects <= maxRedirects; redirects += 1) {
    const response = await browser.request(target);
    if (!response.location) {
      if (response.status >= 400 && response.url.origin === authorizationServer) {
        options.page?.reportError({ status: response.status, message: errorText(response.body) });
      }
      return { status: response.status, finalUrl: response.url.href };
    }
    if (options.stopAt !== undefined) {
      const next = response.location.href;
      if (next.startsWith(options.stopAt)) return { status: 302, finalUrl: next };
    }
    target = loopbackUrl(response.location);
  }
  throw new Error(`gave up after ${maxRedirects} redirects, next was ${target.href}`);
}

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
};

/** The error text an error page shows: the testkit's error marker, or else its title. */
function errorText(html: string): string | undefined {
  const found =
    new RegExp(`<p id="${ERROR_ID}">([^<]*)</p>`).exec(html) ??
    /<title>([^<]*)<\/title>/.exec(html);
  const text = found?.[1]?.replace(/&(?:amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e] ?? e).trim();
  return text || undefined;
}
