import type Provider from 'oidc-provider';
import type { ClientInstance } from 'oidc-provider';

/** The one loopback host the testkit uses. */
export const LOOPBACK_HOST = '127.0.0.1';

function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && url.hostname === LOOPBACK_HOST;
}

/**
 * True when `value` is `http://127.0.0.1[:any port]/any/path[?query]` (no fragment, no userinfo)
 * and the native client registered at least one `http://127.0.0.1/...` redirect URI.
 */
export function loopbackRedirectAllowed(client: ClientInstance, value: string): boolean {
  if (client.applicationType !== 'native') {
    return false;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (!isLoopbackHttp(url) || url.hash || url.username || url.password || value.includes('#')) {
    return false;
  }
  return client.redirectUris.some((registered) => {
    try {
      return isLoopbackHttp(new URL(registered));
    } catch {
      return false;
    }
  });
}

/**
 * Widens this provider's redirect URI check for native clients (RFC 8252 §7.3): oidc-provider
 * itself only lets the port of a registered loopback URI vary; here the path may vary too.
 * The Client class is per provider instance, so other providers are unaffected.
 */
export function allowAnyLoopbackRedirect(provider: Provider): void {
  const prototype = provider.Client.prototype;
  const exact = prototype.redirectUriAllowed;
  prototype.redirectUriAllowed = function redirectUriAllowed(this: ClientInstance, value: string) {
    return exact.call(this, value) || loopbackRedirectAllowed(this, value);
  };
}
