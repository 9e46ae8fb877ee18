import {
  type AuthProvider,
  defineProvider,
  LatchkeyError,
  type Secret,
  type TokenExchangeProxy,
} from '@latchkey/core';
import { GOOGLE_ENDPOINTS, type GoogleEndpoints } from './endpoints.js';
import { identifyGoogleAccount } from './google-account.js';
import { GOOGLE_SCOPE_IMPLIES, type GoogleScopeInput, resolveScopes } from './scopes.js';

/** Options of {@link googleProvider}. */
export interface GoogleProviderOptions {
  /** The OAuth client id of a "Desktop app" client (`….apps.googleusercontent.com`). */
  clientId: string;
  /**
   * The client's secret. Google's token endpoint requires it even with PKCE, and
   * documents it as not confidential for installed apps. Give it, or `tokenExchange`.
   */
  clientSecret?: string | Secret;
  /** A token-exchange proxy on the host's backend that adds the secret, instead of shipping it. */
  tokenExchange?: string | TokenExchangeProxy;
  /** Scopes by short name (`drive.readonly`) or full URL; `openid` and `email` are always added. */
  scopes: readonly GoogleScopeInput[];
  /** The email address to preselect on Google's account chooser (`login_hint`). */
  loginHint?: string;
  /**
   * Only accept accounts of this Google Workspace domain (`example.com`), or of any
   * Workspace domain (`*`). Sent as `hd`, and checked against the account's `hd` claim.
   */
  hostedDomain?: string;
  /** Other endpoints than Google's, for tests against a local fake. */
  endpoints?: Partial<GoogleEndpoints>;
}

/** The sentence added to `REAUTH_REQUIRED` messages of Google logins. */
export const GOOGLE_REAUTH_HINT =
  'Google ends refresh tokens after 7 days when the OAuth consent screen of the app is in "Testing" publishing status; publish the app ("In production") to keep users signed in.';

const NO_SECRET =
  'Google needs a client secret or a token-exchange proxy: its token endpoint refuses token requests without the client secret, even with PKCE (the secret of a "Desktop app" client is not confidential and may ship with the app). Pass clientSecret, or tokenExchange with the URL of a proxy on your backend that adds the secret.';

/**
 * Google as a Latchkey provider: static endpoints, offline access (`access_type=offline`,
 * and `prompt=consent` only when no refresh token is stored, since Google sends one only
 * on consent), incremental consent, the account named by its email through the userinfo
 * endpoint, and revocation on logout. Throws `PROVIDER_CONFIG` when neither a client
 * secret nor a token-exchange proxy is given.
 *
 * @see https://developers.google.com/identity/protocols/oauth2/native-app
 * @see https://developers.google.com/identity/openid-connect/openid-connect
 */
export function googleProvider(options: GoogleProviderOptions): AuthProvider {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('googleProvider() takes an options object');
  }
  const { clientId, clientSecret, tokenExchange, loginHint, hostedDomain } = options;
  if (clientSecret === undefined && tokenExchange === undefined) {
    throw new LatchkeyError('PROVIDER_CONFIG', NO_SECRET);
  }
  for (const [field, value] of Object.entries({ loginHint, hostedDomain })) {
    if (value !== undefined && (typeof value !== 'string' || value.trim() === '')) {
      throw new LatchkeyError(
        'PROVIDER_CONFIG',
        `Provider field "${field}" must be a non-empty string.`,
      );
    }
  }
  const e = { ...GOOGLE_ENDPOINTS, ...options.endpoints };
  return defineProvider({
    id: 'google',
    name: 'Google',
    strategy: {
      kind: 'oauth',
      issuer: e.issuer,
      discovery: false,
      endpoints: {
        authorization: e.authorization,
        token: e.token,
        revocation: e.revocation,
        userinfo: e.userinfo,
      },
      clientId,
      ...(clientSecret !== undefined
        ? { clientSecret, clientAuthentication: 'client_secret_post' as const }
        : {}),
      ...(tokenExchange !== undefined ? { tokenExchange } : {}),
      scopes: resolveScopes(options.scopes),
      authorizationParams: ({ hasRefreshToken, account }) => {
        const hint = account ?? loginHint;
        return {
          access_type: 'offline',
          include_granted_scopes: 'true',
          // Google sends a refresh token only when the user is shown the consent screen.
          ...(hasRefreshToken ? {} : { prompt: 'consent' }),
          ...(hint ? { login_hint: hint } : {}),
          ...(hostedDomain ? { hd: hostedDomain } : {}),
        };
      },
    },
    identify: (context) => identifyGoogleAccount(context, hostedDomain),
    reauthHint: GOOGLE_REAUTH_HINT,
    scopeImplies: GOOGLE_SCOPE_IMPLIES,
  });
}
