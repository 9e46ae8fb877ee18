import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';
import { dpopOf, type OAuthContext } from './authorization-server.js';
import { withDpopNonce } from './dpop.js';
import { toLatchkeyError, withErrorBody } from './errors.js';

const STEP = 'the pushed authorization request';

/**
 * Whether authorization requests to `context`'s server are pushed first (RFC 9126):
 * whenever its metadata names a `pushed_authorization_request_endpoint` (with `when:
 * 'required'`, only when it also requires pushing: a URL the user carries to another
 * device may be opened after the pushed request's short life has ended), except for a
 * provider with a token-exchange proxy. That proxy holds the client secret, and a push
 * must authenticate the client as a token request does, so Latchkey sends the request
 * on the front channel instead, as before. A server that sets
 * `require_pushed_authorization_requests` is then refused with `PAR_REQUIRED`, before
 * any browser is opened.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9126#section-5 Authorization Server Metadata
 */
export function pushesAuthorizationRequests(
  context: OAuthContext,
  when: 'offered' | 'required' = 'offered',
): boolean {
  const { as, settings, provider } = context;
  const required = as.require_pushed_authorization_requests === true;
  if (settings.tokenExchange) {
    if (!required) return false;
    throw new LatchkeyError(
      'PAR_REQUIRED',
      `The authorization server ${as.issuer} accepts only pushed authorization requests (require_pushed_authorization_requests, RFC 9126), which must authenticate the client, but ${provider.name} sends its token requests through a token-exchange proxy that holds the client secret, so Latchkey cannot push one. Turn off the requirement for this client at the authorization server, or use a public client (no secret) without the tokenExchange option.`,
    );
  }
  if (as.pushed_authorization_request_endpoint !== undefined) return required || when === 'offered';
  if (!required) return false;
  throw new LatchkeyError(
    'PAR_REQUIRED',
    `The authorization server ${as.issuer} requires pushed authorization requests (RFC 9126) but its metadata names no pushed_authorization_request_endpoint. The server is misconfigured; ask its operator to fix its metadata.`,
  );
}

/**
 * Pushes the authorization request's parameters to the server's PAR endpoint, with the
 * client's authentication, and returns the `request_uri` that stands for them. With a
 * DPoP key the push carries a proof as well as `dpop_jkt` (RFC 9449 §10.1: the server
 * then binds the code to that key and checks both name it), and a `use_dpop_nonce`
 * answer is retried once. A refusal (unknown client, unregistered redirect URI) is
 * `AUTHORIZATION_REQUEST_REJECTED`, quoting the server.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9126#section-2 Pushed Authorization Request Endpoint
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-10.1 DPoP with Pushed Authorization Requests
 */
export async function pushAuthorizationRequest(
  context: OAuthContext,
  params: URLSearchParams,
  signal: AbortSignal | undefined,
): Promise<oauth.PushedAuthorizationResponse> {
  const endpoint = context.as.pushed_authorization_request_endpoint;
  try {
    return await withDpopNonce(context.dpop, STEP, async () => {
      const response = await oauth.pushedAuthorizationRequest(
        context.as,
        context.client,
        context.clientAuth,
        new URLSearchParams(params),
        {
          ...context.requestOptions(endpoint, signal),
          ...(context.dpop ? { DPoP: context.dpop.handle } : {}),
        },
      );
      return oauth.processPushedAuthorizationResponse(context.as, context.client, response);
    });
  } catch (error) {
    throw toLatchkeyError(await withErrorBody(error), STEP, dpopOf(context), {
      redirectUri: params.get('redirect_uri') ?? '',
    });
  }
}
