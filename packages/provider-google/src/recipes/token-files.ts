import { type Credentials, Secret } from '@latchkey/core';
import { GOOGLE_ENDPOINTS } from '../endpoints.js';

/**
 * google-auth-library's token file, as `OAuth2Client.setCredentials()` reads it:
 * `{access_token, refresh_token?, scope, token_type, expiry_date?}` (epoch ms). The
 * refresh token is left out for servers that cannot use it, and so is `expiry_date`:
 * google-auth-library treats a token as expiring five minutes before `expiry_date`
 * and then refreshes before every request, which without a refresh token fails
 * ("No refresh token is set."). Without it, the library uses the token as it is, and
 * Latchkey replaces the file and restarts the server before the token expires. Internal.
 */
export function authorizedUserFile(credentials: Credentials, withRefreshToken: boolean): Secret {
  const refreshToken = withRefreshToken ? credentials.refreshToken?.reveal() : undefined;
  return new Secret(
    JSON.stringify({
      access_token: credentials.accessToken.reveal(),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      scope: credentials.scopes.join(' '),
      token_type: 'Bearer',
      ...(refreshToken ? { expiry_date: credentials.expiresAt } : {}),
    }),
  );
}

/**
 * The client file Google Cloud console downloads for a "Desktop app" client:
 * `{"installed": {client_id, client_secret, redirect_uris, auth_uri, token_uri}}`. Without
 * a secret (a login through a token-exchange proxy) `client_secret` is left out. Internal.
 */
export function installedClientFile(clientId: string, clientSecret: Secret | undefined): Secret {
  return new Secret(
    JSON.stringify({
      installed: {
        client_id: clientId,
        ...(clientSecret ? { client_secret: clientSecret.reveal() } : {}),
        redirect_uris: ['http://localhost'],
        auth_uri: GOOGLE_ENDPOINTS.authorization,
        token_uri: GOOGLE_ENDPOINTS.token,
      },
    }),
  );
}
