import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';

/** The parameters of a `Bearer` challenge that MCP authorization uses. */
export interface BearerChallenge {
  /** RFC 9728 §5.1: where the protected resource metadata is. */
  resourceMetadata?: string;
  /** The scopes the resource asks for (space-separated in the header). */
  scope?: string[];
  /** The OAuth error, such as `invalid_token` or `insufficient_scope`. */
  error?: string;
}

/** The challenges of a response by scheme: `Bearer` and `DPoP` (RFC 9449 §7.1). Internal. */
export interface ResourceChallenges {
  readonly bearer?: BearerChallenge;
  readonly dpop?: BearerChallenge;
}

/**
 * Parses the `WWW-Authenticate` header of a response and returns its `Bearer`
 * challenge, or `undefined` when there is none. The parsing is oauth4webapi's (RFC 9110
 * §11.6.1: several challenges, quoted or plain values): it is reached through
 * `protectedResourceRequest`, the one place that library parses challenges. A header
 * that cannot be parsed raises `INVALID_CHALLENGE`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3 The WWW-Authenticate Response Header Field
 */
export async function bearerChallenge(response: Response): Promise<BearerChallenge | undefined> {
  return (await resourceChallenges(response)).bearer;
}

/** The `Bearer` and `DPoP` challenges of a response; `INVALID_CHALLENGE` when unparsable. Internal. */
export async function resourceChallenges(response: Response): Promise<ResourceChallenges> {
  const header = response.headers.get('www-authenticate');
  if (header === null) return {};
  let challenges: oauth.WWWAuthenticateChallenge[] | undefined;
  try {
    await oauth.protectedResourceRequest(
      'unused',
      'GET',
      new URL('https://challenge.invalid/'),
      new Headers(),
      null,
      {
        [oauth.customFetch]: async () =>
          new Response(null, { status: response.status, headers: { 'www-authenticate': header } }),
      },
    );
  } catch (error) {
    if (error instanceof oauth.WWWAuthenticateChallengeError) challenges = error.cause;
  }
  if (!challenges) {
    throw new LatchkeyError(
      'INVALID_CHALLENGE',
      `The MCP server sent a WWW-Authenticate header that cannot be parsed (HTTP ${response.status}). The server is misconfigured; report it to its operator.`,
    );
  }
  const bearer = challenges.find((c) => c.scheme === 'bearer');
  const dpop = challenges.find((c) => c.scheme === 'dpop');
  return {
    ...(bearer ? { bearer: challengeOf(bearer) } : {}),
    ...(dpop ? { dpop: challengeOf(dpop) } : {}),
  };
}

function challengeOf(challenge: oauth.WWWAuthenticateChallenge): BearerChallenge {
  const p = challenge.parameters as Record<string, string | undefined>;
  const scope = p.scope?.split(' ').filter((s) => s !== '');
  return {
    ...(p.resource_metadata ? { resourceMetadata: p.resource_metadata } : {}),
    ...(scope && scope.length > 0 ? { scope } : {}),
    ...(p.error ? { error: p.error } : {}),
  };
}
