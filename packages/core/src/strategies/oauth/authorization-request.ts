import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';
import { Secret } from '../../secret.js';
import type { OAuthContext } from './authorization-server.js';
import { toLatchkeyError } from './errors.js';
import { pushAuthorizationRequest, pushesAuthorizationRequests } from './pushed-authorization.js';

/**
 * An authorization request ready to open: the URL plus what is needed to check the
 * callback and redeem the code. Keep it in memory only.
 */
export interface AuthorizationRequest {
  /**
   * The URL to open in the user's browser. When the request was pushed (RFC 9126) it
   * carries only `client_id` and `request_uri`, which the server accepts for a short
   * while (often a minute).
   */
  readonly url: string;
  /** The `state` sent; the callback must carry it back (RFC 6749 §10.12). */
  readonly state: string;
  /** The PKCE code verifier (RFC 7636); secret. */
  readonly codeVerifier: Secret;
  /** The redirect URI sent; the token request repeats it. */
  readonly redirectUri: string;
  /** The scopes requested. */
  readonly scopes: readonly string[];
}

/** Options of {@link createAuthorizationRequest}. */
export interface AuthorizationRequestOptions {
  /** Where the authorization server sends the user back. */
  redirectUri: string;
  /** Scopes to request; default: the provider's. */
  scopes?: readonly string[];
  /** Extra parameters (they cannot replace the ones Latchkey sets). */
  params?: Record<string, string>;
  /** The `state` to send; default: a fresh random one. */
  state?: string;
  /** Aborts the pushed authorization request, when one is sent. */
  signal?: AbortSignal;
  /**
   * When to push the request (RFC 9126): whenever the server offers it (the default),
   * or only when it requires it, for a URL that may be opened minutes later.
   */
  push?: 'offered' | 'required';
}

/**
 * The authorization request parameters Latchkey sets itself, whatever extra parameters
 * say. (`scope` is set from the requested scopes when there are any; a provider's fixed
 * parameters may not name it either, see the `oauth` definition check.)
 */
export const RESERVED_AUTHORIZATION_PARAMS: ReadonlySet<string> = new Set([
  'client_id',
  'redirect_uri',
  'response_type',
  'state',
  'code_challenge',
  'code_challenge_method',
]);

/**
 * Builds an authorization code request with PKCE S256 and a fresh `state`. When the
 * authorization server has a pushed authorization request endpoint, the parameters are
 * pushed to it first and the URL only refers to them, so a request the server refuses
 * (an unknown client, an unregistered redirect URI) fails here with
 * `AUTHORIZATION_REQUEST_REJECTED` instead of on a page in the browser. Providers with a
 * token-exchange proxy do not push (the proxy holds the client secret the push needs);
 * a server that requires pushing then fails with `PAR_REQUIRED`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1 Authorization Request
 * @see https://www.rfc-editor.org/rfc/rfc7636 PKCE
 * @see https://www.rfc-editor.org/rfc/rfc9126 Pushed Authorization Requests
 */
export async function createAuthorizationRequest(
  context: OAuthContext,
  options: AuthorizationRequestOptions,
): Promise<AuthorizationRequest> {
  const endpoint = context.as.authorization_endpoint;
  if (!endpoint) {
    throw new LatchkeyError(
      'DISCOVERY_FAILED',
      'The authorization server has no authorization endpoint.',
    );
  }
  const scopes = [...(options.scopes ?? context.settings.scopes)];
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
  const state = options.state ?? oauth.generateRandomState();
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(options.params ?? {})) {
    if (!RESERVED_AUTHORIZATION_PARAMS.has(name)) params.set(name, value);
  }
  params.set('client_id', context.client.client_id);
  params.set('redirect_uri', options.redirectUri);
  params.set('response_type', 'code');
  if (scopes.length > 0) params.set('scope', scopes.join(context.settings.scopeSeparator));
  params.set('state', state);
  params.set('code_challenge', codeChallenge);
  params.set('code_challenge_method', 'S256');
  const url = new URL(endpoint);
  if (pushesAuthorizationRequests(context, options.push)) {
    const pushed = await pushAuthorizationRequest(context, params, options.signal);
    // RFC 9126 §4: the authorization request names the client and the pushed request only.
    url.searchParams.set('client_id', context.client.client_id);
    url.searchParams.set('request_uri', pushed.request_uri);
  } else {
    for (const [name, value] of params) url.searchParams.set(name, value);
  }
  return Object.freeze({
    url: url.href,
    state,
    codeVerifier: new Secret(codeVerifier),
    redirectUri: options.redirectUri,
    scopes: Object.freeze(scopes),
  });
}

/**
 * Checks an authorization response (the callback URL): the issuer (RFC 9207), then
 * `state`, then an error. The issuer is checked first so that a response from another
 * server is never acted on, not even its `error`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9207 Authorization Server Issuer Identification
 */
export function validateCallback(
  context: OAuthContext,
  request: AuthorizationRequest,
  callback: URL,
): URLSearchParams {
  const iss = callback.searchParams.get('iss');
  if (iss !== null && iss !== context.as.issuer) {
    throw new LatchkeyError(
      'ISSUER_MISMATCH',
      'The sign-in response came from another authorization server than the one asked, so it was ignored. Start the sign-in again.',
    );
  }
  if (iss === null && context.as.authorization_response_iss_parameter_supported === true) {
    throw new LatchkeyError(
      'ISSUER_MISMATCH',
      'The sign-in response lacks the issuer the authorization server promised to send, so it was ignored. Start the sign-in again.',
    );
  }
  if (callback.searchParams.get('state') !== request.state) {
    throw new LatchkeyError(
      'STATE_MISMATCH',
      'The sign-in response does not belong to this sign-in (state mismatch). Start the sign-in again.',
    );
  }
  try {
    return oauth.validateAuthResponse(
      context.as,
      context.client,
      callback.searchParams,
      request.state,
    );
  } catch (error) {
    throw toLatchkeyError(error, 'sign-in');
  }
}
