import * as oauth from 'oauth4webapi';
import {
  type Credentials,
  type EngineState,
  freezeCredentials,
  type LinkedToken,
} from '../../credentials.js';
import { LatchkeyError } from '../../errors.js';
import { Secret } from '../../secret.js';
import type { AuthorizationRequest } from './authorization-request.js';
import { dpopOf, type OAuthContext, type TokenResponseExtras } from './authorization-server.js';
import { withDpopNonce } from './dpop.js';
import { toLatchkeyError, withErrorBody } from './errors.js';
import { fetchUserinfo, identifyAccount } from './identify.js';

/** A processed token endpoint response, before it is tied to an account. */
export interface TokenResult {
  /** The token response (RFC 6749 §5.1), checked. */
  readonly response: oauth.TokenEndpointResponse;
  /**
   * What the provider's `mapTokenResponse` kept aside.
   * @internal
   */
  readonly extras: TokenResponseExtras;
  /** The ID Token's claims, when one came (OpenID Connect). */
  readonly idTokenClaims?: Readonly<Record<string, unknown>>;
  /** When the response arrived (epoch ms). */
  readonly receivedAt: number;
}

/**
 * Runs one token request the same way for every grant: the options (DPoP proof,
 * `mapTokenResponse`, loopback http), a second try on `use_dpop_nonce`, the response
 * checked by `process`, and any failure as a `LatchkeyError` that quotes the server.
 * `send` is called once per attempt. Internal.
 */
export async function tokenRequest(
  context: OAuthContext,
  step: string,
  signal: AbortSignal | undefined,
  send: (options: oauth.TokenEndpointRequestOptions) => Promise<Response>,
  process: (response: Response) => Promise<oauth.TokenEndpointResponse>,
): Promise<TokenResult> {
  try {
    return await withDpopNonce(context.dpop, step, async () => {
      const { options, extras } = context.tokenRequestOptions(signal);
      return result(await process(await send(options)), extras);
    });
  } catch (error) {
    throw toLatchkeyError(await withErrorBody(error), step, dpopOf(context));
  }
}

/**
 * Redeems an authorization code at the token endpoint (with the PKCE verifier).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3 Access Token Request
 */
export async function exchangeAuthorizationCode(
  context: OAuthContext,
  request: AuthorizationRequest,
  callbackParams: URLSearchParams,
  signal?: AbortSignal,
): Promise<TokenResult> {
  return tokenRequest(
    context,
    'the code exchange',
    signal,
    (options) =>
      oauth.authorizationCodeGrantRequest(
        context.tokenAs,
        context.client,
        context.clientAuth,
        callbackParams,
        request.redirectUri,
        request.codeVerifier.reveal(),
        options,
      ),
    (response) => oauth.processAuthorizationCodeResponse(context.tokenAs, context.client, response),
  );
}

/** Turns a processed token response into a {@link TokenResult}. */
export function result(
  body: oauth.TokenEndpointResponse,
  extras: TokenResponseExtras,
): TokenResult {
  const claims = body.id_token ? oauth.getValidatedIdTokenClaims(body) : undefined;
  return {
    response: body,
    extras,
    ...(claims ? { idTokenClaims: claims as Readonly<Record<string, unknown>> } : {}),
    receivedAt: Date.now(),
  };
}

function grantedScopes(
  context: OAuthContext,
  scope: string | undefined,
  fallback: readonly string[],
): string[] {
  if (scope === undefined) return [...fallback];
  const separator = context.settings.scopeSeparator;
  return scope
    .split(/\s+/)
    .flatMap((s) => s.split(separator))
    .filter((s) => s !== '');
}

/** Builds credentials from a token result, keeping what the response does not renew. */
export function toCredentials(
  context: OAuthContext,
  token: TokenResult,
  account: string,
  base: {
    scopes: readonly string[];
    previous?: Credentials;
    metadata?: Record<string, string | number | boolean>;
    engine?: EngineState;
  },
): Credentials {
  const r = token.response;
  const previous = base.previous;
  const refreshToken = r.refresh_token ? new Secret(r.refresh_token) : previous?.refreshToken;
  const idToken = r.id_token ? new Secret(r.id_token) : previous?.idToken;
  // A DPoP-bound token (token_type DPoP) keeps the key it is bound to; a bearer one has none.
  const dpopKey =
    r.token_type.toLowerCase() === 'dpop' ? (context.dpop?.key ?? previous?.dpopKey) : undefined;
  const engine = base.engine ?? previous?.engine;
  const linked = Object.entries(token.extras.linkedTokens);
  const linkedTokens: Record<string, LinkedToken> = { ...previous?.linkedTokens };
  for (const [name, t] of linked)
    linkedTokens[name] = linkedToken(token, t, previous?.linkedTokens?.[name]);
  return freezeCredentials({
    providerId: context.provider.id,
    account,
    tokenType: r.token_type.toLowerCase(),
    accessToken: new Secret(r.access_token),
    ...(refreshToken ? { refreshToken } : {}),
    ...(idToken ? { idToken } : {}),
    ...(dpopKey ? { dpopKey } : {}),
    ...(typeof r.expires_in === 'number'
      ? { expiresAt: token.receivedAt + r.expires_in * 1000 }
      : {}),
    scopes: grantedScopes(context, r.scope, base.scopes),
    secrets: {
      ...previous?.secrets,
      ...Object.fromEntries(
        Object.entries(token.extras.secrets).map(([k, v]) => [k, new Secret(v)]),
      ),
      ...Object.fromEntries(linked.map(([k, t]) => [k, new Secret(t.access_token)])),
    },
    ...(Object.keys(linkedTokens).length > 0 ? { linkedTokens } : {}),
    metadata: {
      ...previous?.metadata,
      ...base.metadata,
      ...token.extras.metadata,
      issuer: context.as.issuer,
    },
    obtainedAt: token.receivedAt,
    ...(engine ? { engine } : {}),
  });
}

/** A linked token's refresh token and expiry from a response, keeping a refresh token it did not renew. */
function linkedToken(
  token: Pick<TokenResult, 'receivedAt'>,
  t: { refresh_token?: string | undefined; expires_in?: number | undefined },
  previous: LinkedToken | undefined,
): LinkedToken {
  const refreshToken = t.refresh_token ? new Secret(t.refresh_token) : previous?.refreshToken;
  return {
    ...(refreshToken ? { refreshToken } : {}),
    ...(typeof t.expires_in === 'number'
      ? { expiresAt: token.receivedAt + t.expires_in * 1000 }
      : {}),
  };
}

/** Names the account of a fresh token result and builds its credentials. */
export async function credentialsForNewLogin(
  context: OAuthContext,
  token: TokenResult,
  scopes: readonly string[],
  signal: AbortSignal,
): Promise<Credentials> {
  const accessToken = new Secret(token.response.access_token);
  const identity = await identifyAccount(context, {
    accessToken,
    ...(token.idTokenClaims ? { idTokenClaims: token.idTokenClaims } : {}),
    metadata: { ...token.extras.metadata },
    fetch: context.fetch,
    userinfo: () => fetchUserinfo(context, accessToken.reveal(), signal),
    signal,
  });
  return toCredentials(context, token, identity.account, {
    scopes,
    ...(identity.metadata ? { metadata: identity.metadata } : {}),
  });
}

/**
 * Uses the refresh token to get a new access token. Returns the new credentials with a
 * rotated refresh token when the server sent one. `invalid_grant` raises `INVALID_GRANT`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6 Refreshing an Access Token
 */
export async function refreshCredentials(
  context: OAuthContext,
  current: Credentials,
  signal?: AbortSignal,
  save?: (partial: Credentials) => Promise<void>,
): Promise<Credentials> {
  if (!current.refreshToken) {
    throw new LatchkeyError(
      'REAUTH_REQUIRED',
      `The login for ${current.account} at ${context.provider.name} has expired and cannot be refreshed (the service issued no refresh token). Sign in again.`,
    );
  }
  const token = await refreshGrant(context, current.refreshToken, 'the token refresh', signal);
  let next = toCredentials(context, token, current.account, {
    scopes: current.scopes,
    previous: current,
  });
  const linked = Object.entries(next.linkedTokens ?? {}).filter(([, t]) => t.refreshToken);
  for (const [name, held] of linked) {
    // The refresh tokens rotate: what is renewed so far is saved before the next request.
    await save?.(next);
    next = await refreshLinkedToken(context, next, name, held, signal);
  }
  return next;
}

function refreshGrant(
  context: OAuthContext,
  refreshToken: Secret,
  step: string,
  signal: AbortSignal | undefined,
): Promise<TokenResult> {
  return tokenRequest(
    context,
    step,
    signal,
    (options) =>
      oauth.refreshTokenGrantRequest(
        context.tokenAs,
        context.client,
        context.clientAuth,
        refreshToken.reveal(),
        options,
      ),
    (response) => oauth.processRefreshTokenResponse(context.tokenAs, context.client, response),
  );
}

/**
 * Renews one linked token with its own refresh token. What the answer says besides the
 * token (its kind, its scopes) is the linked token's, not the login's, so it is left
 * out. A refresh token the service no longer accepts leaves the token as it was, without
 * it: the token then serves until it expires, and a launch after that asks for a new
 * sign-in (`REAUTH_REQUIRED`) instead of handing a server an expired token.
 */
async function refreshLinkedToken(
  context: OAuthContext,
  current: Credentials,
  name: string,
  held: LinkedToken,
  signal: AbortSignal | undefined,
): Promise<Credentials> {
  let renewed: LinkedToken;
  let value: Secret | undefined;
  try {
    const token = await refreshGrant(
      context,
      held.refreshToken as Secret,
      `the refresh of the linked token "${name}"`,
      signal,
    );
    value = new Secret(token.response.access_token);
    renewed = linkedToken(token, token.response, held);
  } catch (error) {
    if (!(error instanceof LatchkeyError) || error.code !== 'INVALID_GRANT') throw error;
    renewed = held.expiresAt !== undefined ? { expiresAt: held.expiresAt } : {};
  }
  return freezeCredentials({
    ...current,
    secrets: { ...current.secrets, ...(value ? { [name]: value } : {}) },
    linkedTokens: { ...current.linkedTokens, [name]: renewed },
  });
}

/**
 * Revokes the credentials at the authorization server: the refresh token when there is
 * one (which ends the whole grant at most servers), else the access token. Returns
 * `false` when the server has no revocation endpoint.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009 OAuth 2.0 Token Revocation
 */
export async function revokeCredentials(
  context: OAuthContext,
  credentials: Credentials,
  signal?: AbortSignal,
): Promise<boolean> {
  const endpoint = context.as.revocation_endpoint;
  if (!endpoint) return false;
  const token = credentials.refreshToken ?? credentials.accessToken;
  const hint = credentials.refreshToken ? 'refresh_token' : 'access_token';
  // A token-exchange proxy holds the secret, so revocation goes out as a public client.
  const auth = context.clientAuth;
  try {
    const response = await oauth.revocationRequest(
      context.as,
      context.client,
      auth,
      token.reveal(),
      {
        ...context.requestOptions(endpoint, signal),
        additionalParameters: { token_type_hint: hint },
      },
    );
    await oauth.processRevocationResponse(response);
    return true;
  } catch (error) {
    throw toLatchkeyError(await withErrorBody(error), 'the revocation');
  }
}
