/**
 * Google's OAuth 2.0 and OpenID Connect endpoints. Google publishes them in its
 * discovery document; they are stable, so the provider uses them as they are and
 * needs no discovery request.
 *
 * @see https://accounts.google.com/.well-known/openid-configuration
 */
export interface GoogleEndpoints {
  /** The issuer: the `iss` of ID Tokens and of authorization responses (RFC 9207). */
  issuer: string;
  /** The authorization endpoint, where the browser goes to sign in and consent. */
  authorization: string;
  /** The token endpoint (code exchange and refresh). */
  token: string;
  /** The revocation endpoint (RFC 7009), used by `logout()`. */
  revocation: string;
  /** The OpenID Connect userinfo endpoint, which names the account. */
  userinfo: string;
}

/**
 * Google's real endpoints, the default of `googleProvider()` and the values written
 * into the credential files of the recipes.
 *
 * @see https://developers.google.com/identity/protocols/oauth2/native-app
 */
export const GOOGLE_ENDPOINTS: Readonly<GoogleEndpoints> = Object.freeze({
  issuer: 'https://accounts.google.com',
  authorization: 'https://accounts.google.com/o/oauth2/v2/auth',
  token: 'https://oauth2.googleapis.com/token',
  revocation: 'https://oauth2.googleapis.com/revoke',
  userinfo: 'https://openidconnect.googleapis.com/v1/userinfo',
});
