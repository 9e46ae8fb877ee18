/** Endpoints the test auth server counts requests for. */
export type CountedEndpoint = 'token' | 'revocation' | 'device' | 'discovery' | 'userinfo';

/** Path of RFC 8414 authorization server metadata. */
export const OAUTH_METADATA_PATH = '/.well-known/oauth-authorization-server';

/** Path of OpenID Connect discovery metadata. */
export const OPENID_METADATA_PATH = '/.well-known/openid-configuration';

/** Maps a request to the endpoint it targets, or undefined for everything uncounted. */
export function endpointOf(method: string, path: string): CountedEndpoint | undefined {
  if (method === 'GET' && (path === OAUTH_METADATA_PATH || path === OPENID_METADATA_PATH)) {
    return 'discovery';
  }
  if (path === '/me' && (method === 'GET' || method === 'POST')) {
    return 'userinfo';
  }
  if (method !== 'POST') {
    return undefined;
  }
  switch (path) {
    case '/token':
      return 'token';
    case '/token/revocation':
      return 'revocation';
    case '/device/auth':
      return 'device';
    default:
      return undefined;
  }
}
