import { LatchkeyError } from '../../errors.js';
import { Secret } from '../../secret.js';
import type { JsonObject } from '../../store/types.js';
import { createAuthorizationRequest, validateCallback } from './authorization-request.js';
import type { OAuthContext } from './authorization-server.js';
import { bindingForKey, type DpopBinding } from './dpop.js';
import { exchangeAuthorizationCode, type TokenResult } from './token-requests.js';

/** What a redirect sign-in keeps until its callback, as JSON for the credential store. */
export interface RedirectFlowPending extends JsonObject {
  /** The PKCE code verifier (RFC 7636), in clear: the store protects it. */
  codeVerifier: string;
  /** The redirect URI the authorization request named; the token request repeats it. */
  redirectUri: string;
  /** The scopes requested. */
  scopes: string[];
}

/**
 * Builds the authorization request of a sign-in that comes back to the host's own
 * redirect URI, on another request and perhaps another instance of the host.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1 Authorization Request
 * @see https://www.rfc-editor.org/rfc/rfc7636 PKCE
 */
export async function startRedirectFlow(
  context: OAuthContext,
  options: {
    redirectUri: string;
    state: string;
    scopes: readonly string[];
    params: Record<string, string>;
    signal: AbortSignal;
  },
): Promise<{ url: string; pending: RedirectFlowPending }> {
  const request = await createAuthorizationRequest(context, {
    redirectUri: options.redirectUri,
    scopes: options.scopes,
    params: options.params,
    state: options.state,
    signal: options.signal,
  });
  return {
    url: request.url,
    pending: {
      codeVerifier: request.codeVerifier.reveal(),
      redirectUri: request.redirectUri,
      scopes: [...request.scopes],
    },
  };
}

/** Reads the flow's part of a pending sign-in; a malformed one is `STORE_CORRUPT`. */
export function readRedirectPending(pending: JsonObject): RedirectFlowPending {
  const { codeVerifier, redirectUri, scopes } = pending;
  if (
    typeof codeVerifier !== 'string' ||
    typeof redirectUri !== 'string' ||
    !Array.isArray(scopes) ||
    !scopes.every((s) => typeof s === 'string')
  ) {
    throw corruptPending();
  }
  return { codeVerifier, redirectUri, scopes: scopes as string[] };
}

/** The DPoP key a pending sign-in kept (`dpopKey`), or `undefined` for bearer tokens. */
export async function pendingDpopBinding(pending: JsonObject): Promise<DpopBinding | undefined> {
  const { dpopKey } = pending;
  if (typeof dpopKey !== 'string') return undefined;
  return bindingForKey(new Secret(dpopKey)).catch(() => {
    throw corruptPending();
  });
}

/** The error for a pending sign-in in the store that cannot be read. */
export function corruptPending(): LatchkeyError {
  return new LatchkeyError(
    'STORE_CORRUPT',
    'The pending sign-in kept in the credential store cannot be read, so it was not used. Start the sign-in again.',
  );
}

/**
 * Checks the callback of a redirect sign-in (issuer, `state`, error) and redeems its
 * code with the kept PKCE verifier.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2 Authorization Response
 * @see https://www.rfc-editor.org/rfc/rfc9207 Authorization Server Issuer Identification
 */
export async function finishRedirectFlow(
  context: OAuthContext,
  kept: RedirectFlowPending,
  callback: URL,
  state: string,
  signal: AbortSignal,
): Promise<TokenResult> {
  const request = Object.freeze({
    url: '',
    state,
    codeVerifier: new Secret(kept.codeVerifier),
    redirectUri: kept.redirectUri,
    scopes: Object.freeze([...kept.scopes]),
  });
  const params = validateCallback(context, request, callback);
  return exchangeAuthorizationCode(context, request, params, signal);
}
