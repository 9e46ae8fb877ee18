import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';

/**
 * A cause safe to attach to a `LatchkeyError`: oauth4webapi's code and message only.
 * Nested causes are dropped because a JSON parse error quotes the text it failed on,
 * and that text can be a token response.
 */
function safeCause(error: unknown): Error | undefined {
  if (!(error instanceof Error)) return undefined;
  const cause = new Error(error.message);
  cause.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') (cause as Error & { code?: string }).code = code;
  if (error instanceof oauth.ResponseBodyError) {
    Object.assign(cause, { status: error.status, error: error.error });
  }
  return cause;
}

/**
 * Reads the OAuth error body (`error`, `error_description`) of a response that also
 * carried a `WWW-Authenticate` challenge, such as a token endpoint's `401
 * invalid_client`, so {@link toLatchkeyError} can quote the server's words. Any other
 * error is returned as it is.
 */
export async function withErrorBody(error: unknown): Promise<unknown> {
  if (!(error instanceof oauth.WWWAuthenticateChallengeError)) return error;
  try {
    const body = (await error.response.clone().json()) as Record<string, unknown>;
    if (typeof body.error === 'string') {
      Object.assign(error, {
        oauthError: body.error,
        ...(typeof body.error_description === 'string'
          ? { oauthDescription: body.error_description }
          : {}),
      });
    }
  } catch {
    // No JSON body: the challenge alone says what happened.
  }
  return error;
}

/** The host:port a network error could not reach, when Node says. */
function unreachable(error: TypeError): string | undefined {
  const cause = (error as { cause?: unknown }).cause as
    | { hostname?: unknown; address?: unknown; port?: unknown }
    | undefined;
  if (typeof cause?.hostname === 'string') return cause.hostname;
  if (typeof cause?.address === 'string') {
    return typeof cause.port === 'number' ? `${cause.address}:${cause.port}` : cause.address;
  }
  return undefined;
}

function describe(error: string, description: string | undefined): string {
  return description ? `${error}: ${description.slice(0, 300)}` : error;
}

/** The OAuth `error` and `error_description` a challenge error carries, from its body or its challenge. */
function challengeError(error: oauth.WWWAuthenticateChallengeError): {
  code: string | undefined;
  description: string | undefined;
} {
  const read = error as { oauthError?: string; oauthDescription?: string };
  const challenge = error.cause.find((c) => typeof c.parameters.error === 'string');
  return {
    code: read.oauthError ?? challenge?.parameters.error,
    description: read.oauthDescription ?? challenge?.parameters.error_description,
  };
}

/**
 * What {@link toLatchkeyError} is told when the refused request was a pushed
 * authorization request (RFC 9126) rather than a token request: the redirect URI it
 * carried, which the message names.
 */
export interface PushedRequestFailure {
  /** The redirect URI the request asked for. */
  readonly redirectUri: string;
}

/** The setting an authorization server's refusal of a pushed authorization request points at. */
function pushedRequestHint(code: string, description: string, redirectUri: string): string {
  const redirect = `Check the redirect URIs registered for the client: they must allow ${redirectUri} (Latchkey's loopback redirect; see the provider's redirect option).`;
  if (code === 'invalid_redirect_uri' || /redirect/i.test(description)) return redirect;
  if (code === 'invalid_client' || code === 'unauthorized_client') {
    return "Check the provider's clientId: it must name a client registered at this authorization server (and, for a confidential client, check clientSecret and clientAuthentication).";
  }
  if (code === 'invalid_scope') return 'Check the scopes requested.';
  return `Check the provider's clientId and the parameters it sends. ${redirect}`;
}

/** `AUTHORIZATION_REQUEST_REJECTED`, quoting the server and naming the setting to check. */
function rejectedAuthorizationRequest(
  status: number,
  code: string,
  description: string | undefined,
  pushed: PushedRequestFailure,
  cause: Error | undefined,
): LatchkeyError {
  return new LatchkeyError(
    'AUTHORIZATION_REQUEST_REJECTED',
    `The authorization server refused the sign-in request before showing any page (pushed authorization request, HTTP ${status}, ${describe(code, description)}). ${pushedRequestHint(code, description ?? '', pushed.redirectUri)}`,
    { cause },
  );
}

/**
 * Turns an error thrown while talking to an authorization server into a
 * `LatchkeyError` with a stable code. `step` names what was being done, for the message;
 * `dpop` says whether the request carried a DPoP proof and whether the server offers DPoP;
 * `pushed` is given for a pushed authorization request, whose OAuth errors become
 * `AUTHORIZATION_REQUEST_REJECTED` (RFC 9126 §2.3).
 */
export function toLatchkeyError(
  error: unknown,
  step: string,
  dpop: { sent: boolean; offered: boolean } = { sent: false, offered: false },
  pushed?: PushedRequestFailure,
): LatchkeyError {
  if (error instanceof LatchkeyError) return error;
  const cause = safeCause(error);
  if (pushed && error instanceof oauth.ResponseBodyError) {
    return rejectedAuthorizationRequest(
      error.status,
      error.error,
      error.error_description,
      pushed,
      cause,
    );
  }
  if (pushed && error instanceof oauth.WWWAuthenticateChallengeError) {
    const { code, description } = challengeError(error);
    const what = code ?? `a ${error.cause.map((c) => c.scheme).join(', ')} challenge`;
    return rejectedAuthorizationRequest(error.status, what, description, pushed, cause);
  }
  if (error instanceof oauth.ResponseBodyError) {
    const detail = describe(error.error, error.error_description);
    if (error.error === 'invalid_grant') {
      // Some servers (oidc-provider among them) answer a missing DPoP proof this way.
      const hint =
        dpop.offered && !dpop.sent
          ? " The server offers DPoP and may require it: if so, set the provider's dpop option to 'auto'."
          : '';
      return new LatchkeyError(
        'INVALID_GRANT',
        `The authorization server rejected the grant during ${step} (${detail}).${hint}`,
        {
          cause,
        },
      );
    }
    if (error.error === 'invalid_dpop_proof' && !dpop.sent) {
      return new LatchkeyError(
        'DPOP_REQUIRED',
        `The authorization server requires DPoP-bound tokens during ${step} (${detail}), and this provider does not use DPoP with it. Set the provider's dpop option to 'auto' or 'require'.`,
        { cause },
      );
    }
    if (error.error === 'access_denied') {
      return new LatchkeyError('AUTH_DENIED', `Access was denied during ${step} (${detail}).`, {
        cause,
      });
    }
    return new LatchkeyError(
      'TOKEN_REQUEST_FAILED',
      `The authorization server refused ${step} (HTTP ${error.status}, ${detail}). Check the provider's client id, secret and scopes.`,
      { cause },
    );
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const { code, description } = challengeError(error);
    const detail = code
      ? describe(code, description)
      : `a ${error.cause.map((c) => c.scheme).join(', ')} challenge`;
    const clientRefused =
      code === 'invalid_client' ||
      (code === undefined && error.cause.some((c) => c.scheme === 'basic'));
    return new LatchkeyError(
      'TOKEN_REQUEST_FAILED',
      `The authorization server refused ${step} (HTTP ${error.status}, ${detail}).${clientRefused ? " It did not accept the client: check the provider's clientId, clientSecret and clientAuthentication (or the token-exchange proxy that adds the secret)." : ''}`,
      { cause },
    );
  }
  if (error instanceof oauth.AuthorizationResponseError) {
    return new LatchkeyError(
      'AUTH_DENIED',
      `Sign-in was not granted (${describe(error.error, error.error_description)}). Try again and approve the request.`,
      { cause },
    );
  }
  if (error instanceof oauth.OperationProcessingError) {
    if (
      error.code === oauth.HTTP_REQUEST_FORBIDDEN ||
      error.code === oauth.REQUEST_PROTOCOL_FORBIDDEN
    ) {
      return new LatchkeyError(
        'INSECURE_ENDPOINT',
        `Refused a plain-http request during ${step}; authorization server endpoints must use https.`,
        { cause },
      );
    }
    const status = statusOf(error);
    return new LatchkeyError(
      'INVALID_RESPONSE',
      `The authorization server sent an invalid response during ${step}${status ? ` (HTTP ${status})` : ''}: ${error.message}. Try again later; if it persists, the service may be down or misconfigured.`,
      { cause },
    );
  }
  if (
    error instanceof TypeError &&
    /fetch failed|network|ECONN|ENOTFOUND/i.test(
      `${error.message} ${String((error as { cause?: unknown }).cause)}`,
    )
  ) {
    const host = unreachable(error);
    return new LatchkeyError(
      'NETWORK_ERROR',
      `Could not reach ${host ? `${host} (the authorization server)` : 'the authorization server'} during ${step}. Check the network connection and that the address is right, then try again.`,
      { cause },
    );
  }
  return new LatchkeyError(
    'INVALID_RESPONSE',
    `Unexpected failure during ${step}: ${cause?.message ?? String(error)}.`,
    {
      cause,
    },
  );
}

function statusOf(error: oauth.OperationProcessingError): number | undefined {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Response) return cause.status;
  return undefined;
}

/** Whether oauth4webapi refused metadata because its `issuer` is not the expected one (RFC 8414 §3.3). */
export function isIssuerMismatch(error: unknown): boolean {
  return (
    error instanceof oauth.OperationProcessingError &&
    error.code === oauth.JSON_ATTRIBUTE_COMPARISON
  );
}
