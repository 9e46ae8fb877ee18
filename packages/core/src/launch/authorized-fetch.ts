import type { Credentials } from '../credentials.js';
import { isLatchkeyError, LatchkeyError } from '../errors.js';
import type { Session } from '../session.js';
import type { SignInEventListener } from '../strategies/events.js';
import { bearerChallenge } from '../strategies/mcp/challenge.js';
import { discoverProtectedResource } from '../strategies/mcp/discovery.js';
import type { McpStrategy } from '../strategies/mcp/types.js';

/** Options of {@link authorizedFetch}. */
export interface AuthorizedFetchOptions {
  /** The `fetch` requests go through. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Most step-up sign-ins for one request (403 `insufficient_scope`). Default 3. */
  maxStepUps?: number;
  /** Told when a step-up sign-in starts. */
  onEvent?: SignInEventListener;
}

function withBearer(init: RequestInit | undefined, credentials: Credentials): RequestInit {
  const headers = new Headers(init?.headers);
  headers.set('authorization', `Bearer ${credentials.accessToken.reveal()}`);
  return { ...init, headers };
}

/** Issuers compared as URLs, as metadata validation compares them (`https://as` = `https://as/`). */
function sameIssuer(a: string, b: unknown): boolean {
  if (typeof b !== 'string') return false;
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return a === b;
  }
}

function replayable(init: RequestInit | undefined): boolean {
  const body = init?.body;
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams
  );
}

/**
 * A `fetch` for an MCP client transport that sends the session's bearer token on
 * every request (never in the URL), refreshed ahead of expiry, and answers the
 * server's challenges: on `401` it re-discovers the authorization server and refreshes
 * (or signs in again, with a new registration when the server moved to another
 * authorization server) once; on `403 insufficient_scope` it signs in again with the
 * union of the scopes held and the scopes asked for, a bounded number of times, and
 * stops when more scopes cannot help. A server that keeps answering `401` ends with
 * `UNAUTHORIZED_LOOP`, one that keeps answering `403` with `INSUFFICIENT_SCOPE`.
 *
 * @see https://modelcontextprotocol.io/specification/draft/basic/authorization#scope-challenge-handling
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1 Authorization Request Header Field
 */
export function authorizedFetch(
  session: Session,
  options: AuthorizedFetchOptions = {},
): typeof fetch {
  const base = options.fetch ?? globalThis.fetch;
  const maxStepUps = options.maxStepUps ?? 3;
  const strategy = session.provider.strategy;

  // A token the server refused: sign in again when its authorization server changed
  // or the login cannot be refreshed; otherwise refresh it.
  const renew = async (response: Response, credentials: Credentials): Promise<Credentials> => {
    const challenge = await bearerChallenge(response);
    if (strategy.kind === 'mcp') {
      const metadata = await discoverProtectedResource(
        (strategy as McpStrategy).serverUrl,
        challenge?.resourceMetadata,
        { fetch: base, allowHttpLoopback: (strategy as McpStrategy).allowHttpLoopback },
      );
      const issuer = metadata?.authorization_servers?.[0];
      const held = credentials.engine?.kind === 'mcp' ? credentials.engine.issuer : undefined;
      if (issuer !== undefined && !sameIssuer(issuer, held)) {
        return session.reauthenticate();
      }
    }
    if (!credentials.refreshToken) return session.reauthenticate();
    try {
      return await session.refresh();
    } catch (error) {
      if (isLatchkeyError(error, 'REAUTH_REQUIRED')) return session.reauthenticate();
      throw error;
    }
  };

  // Credentials fresh enough to send. A login that can no longer be refreshed (the
  // refresh ahead of expiry met invalid_grant) falls back to a sign-in, as on a 401.
  const usable = async (): Promise<Credentials> => {
    try {
      return await session.fresh();
    } catch (error) {
      if (isLatchkeyError(error, 'REAUTH_REQUIRED')) return session.reauthenticate();
      throw error;
    }
  };

  return async (input, init) => {
    let credentials = await usable();
    let response = await base(input, withBearer(init, credentials));
    if (!replayable(init)) return response;
    let renewed = false;
    let stepUps = 0;
    // The scopes the last step-up was for: the same challenge again means more sign-ins cannot help.
    let steppedUpFor: string | undefined;
    // Each turn either returns or spends one of the bounded retries.
    for (let turn = 0; turn <= maxStepUps + 1; turn += 1) {
      if (response.status === 401) {
        if (renewed) {
          await response.body?.cancel();
          throw new LatchkeyError(
            'UNAUTHORIZED_LOOP',
            `The MCP server at ${new URL(String(input instanceof Request ? input.url : input)).origin} refused a freshly obtained token again. Latchkey stopped instead of signing in over and over; the server or its authorization server is misconfigured.`,
          );
        }
        renewed = true;
        credentials = await renew(response, credentials);
        response = await base(input, withBearer(init, credentials));
        continue;
      }
      if (response.status === 403) {
        const challenge = await bearerChallenge(response);
        if (challenge?.error !== 'insufficient_scope') return response;
        const asked = challenge.scope ?? [];
        const held = new Set(credentials.scopes);
        const missing = asked.filter((s) => !held.has(s));
        const challenged = [...new Set(asked)].sort().join(' ');
        if (missing.length === 0 || stepUps >= maxStepUps || challenged === steppedUpFor) {
          await response.body?.cancel();
          throw new LatchkeyError(
            'INSUFFICIENT_SCOPE',
            missing.length === 0
              ? `The MCP server refused the request for lack of scope (${asked.join(' ') || 'unspecified'}) although the token carries it. Signing in again cannot help; the server or its authorization server is misconfigured.`
              : challenged === steppedUpFor
                ? `The MCP server asks again for the same scope (${missing.join(' ')}) right after a sign-in that requested it; the authorization server did not grant it, so Latchkey stopped. The account may not be allowed that scope.`
                : `The MCP server still asks for more scope (${missing.join(' ')}) after ${stepUps} step-up sign-ins. Latchkey stopped.`,
          );
        }
        await response.body?.cancel();
        stepUps += 1;
        steppedUpFor = challenged;
        const scopes = [...new Set([...credentials.scopes, ...asked])];
        options.onEvent?.({ type: 'step_up_requested', providerId: session.provider.id, scopes });
        credentials = await session.reauthenticate({ scopes });
        response = await base(input, withBearer(init, credentials));
        continue;
      }
      return response;
    }
    return response;
  };
}
