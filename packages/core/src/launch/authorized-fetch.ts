import * as oauth from 'oauth4webapi';
import type { Credentials } from '../credentials.js';
import { isLatchkeyError, LatchkeyError } from '../errors.js';
import type { Session } from '../session.js';
import type { SignInEventListener } from '../strategies/events.js';
import { type ResourceChallenges, resourceChallenges } from '../strategies/mcp/challenge.js';
import { discoverProtectedResource } from '../strategies/mcp/discovery.js';
import type { McpStrategy } from '../strategies/mcp/types.js';
import { type DpopBinding, storedDpopBinding } from '../strategies/oauth/dpop.js';
import { requestHeaders } from './credential-fetch.js';

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

/**
 * Sends a request with a DPoP-bound token: `Authorization: DPoP`, and a proof of the key
 * for this method and URL (with `ath`, and the server's nonce once it sent one), made by
 * oauth4webapi. A `use_dpop_nonce` or `invalid_dpop_proof` answer is retried once, with
 * the new nonce and a fresh proof, when the body can be sent again; any other challenge
 * is returned as the response it is. Same-origin 307 and 308 redirects are followed
 * (at most three), each with a proof for its own URL.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7 Protected Resource Access
 */
async function sendWithDpop(
  base: typeof fetch,
  input: Parameters<typeof fetch>[0],
  init: RequestInit | undefined,
  credentials: Credentials,
  binding: DpopBinding,
): Promise<Response> {
  let url = new URL(input instanceof Request ? input.url : String(input));
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const headers = requestHeaders(input, init);
  headers.delete('authorization');
  headers.delete('dpop');
  const body = (init?.body ?? null) as oauth.ProtectedResourceRequestBody;
  const via = (href: string, options: oauth.CustomFetchOptions<string, unknown>) =>
    base(href, { ...init, ...(options as RequestInit) });
  let retried = false;
  let hops = 0;
  for (;;) {
    let response: Response;
    try {
      response = await oauth.protectedResourceRequest(
        credentials.accessToken.reveal(),
        method,
        url,
        headers,
        body,
        {
          DPoP: binding.handle,
          [oauth.customFetch]: via,
          // The transport's URL was checked when the provider was defined.
          [oauth.allowInsecureRequests]: url.protocol === 'http:',
          ...(init?.signal ? { signal: init.signal } : {}),
        },
      );
    } catch (error) {
      if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error;
      // A new nonce, or a proof the server would not take (seen before, clock skew):
      // one more try with a fresh proof, which a refresh of the token would not help.
      if (!retried && replayable(init) && (oauth.isDPoPNonceError(error) || badProof(error))) {
        retried = true;
        await error.response.body?.cancel();
        continue;
      }
      return error.response;
    }
    // oauth4webapi does not follow redirects; a proof names one URL, so a same-origin
    // 307/308 (a trailing slash, say) is followed here with a proof for the new URL.
    const location = response.headers.get('location');
    if (
      (response.status === 307 || response.status === 308) &&
      location !== null &&
      hops < MAX_REDIRECTS &&
      replayable(init)
    ) {
      const next = new URL(location, url);
      if (next.origin === url.origin) {
        hops += 1;
        await response.body?.cancel();
        url = next;
        continue;
      }
    }
    return response;
  }
}

/** Whether a challenge refuses the proof itself (`invalid_dpop_proof`), not the token. */
function badProof(error: oauth.WWWAuthenticateChallengeError): boolean {
  return error.cause.some(
    (c) => c.scheme === 'dpop' && c.parameters.error === 'invalid_dpop_proof',
  );
}

/** Whether a server challenges only with `DPoP` (RFC 9449 §7.1). */
function dpopOnly(challenges: ResourceChallenges): boolean {
  return challenges.dpop !== undefined && challenges.bearer === undefined;
}

/** `DPOP_REQUIRED` for a server that takes only DPoP-bound tokens, when the login has none. */
function dpopRequired(session: Session, refusedByPolicy: boolean): LatchkeyError {
  return new LatchkeyError(
    'DPOP_REQUIRED',
    refusedByPolicy
      ? `The MCP server accepts only DPoP-bound tokens, and the ${session.provider.name} provider refuses DPoP. Set its dpop option to 'auto'.`
      : `The MCP server accepts only DPoP-bound tokens, and its authorization server issued a bearer token again after a new sign-in (it does not offer DPoP). The server and its authorization server disagree; report it to their operator.`,
  );
}

/** Redirects followed for one request with a DPoP proof. */
const MAX_REDIRECTS = 3;

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
 * A `fetch` for an MCP client transport that sends the session's token on every request
 * (never in the URL), refreshed ahead of expiry: as a bearer token, or, for a login
 * bound with DPoP, with a fresh proof of its key each time (RFC 9449, retried once
 * with the server's nonce on `use_dpop_nonce`). It answers the
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
  const renew = async (
    challenges: ResourceChallenges,
    credentials: Credentials,
  ): Promise<Credentials> => {
    const challenge = challenges.bearer ?? challenges.dpop;
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
  // refresh ahead of expiry met invalid_grant, or its DPoP key is gone) falls back to a
  // sign-in, as on a 401.
  const usable = async (): Promise<Credentials> => {
    try {
      const credentials = await session.fresh();
      // A DPoP login whose key is missing or unreadable is as unusable as an expired one.
      await storedDpopBinding(credentials, session.provider.name);
      return credentials;
    } catch (error) {
      if (isLatchkeyError(error, 'REAUTH_REQUIRED')) return session.reauthenticate();
      throw error;
    }
  };

  // One request with the credentials as their type says: a bearer header, or DPoP.
  const send = async (
    input: Parameters<typeof fetch>[0],
    init: RequestInit | undefined,
    credentials: Credentials,
  ): Promise<Response> => {
    const binding = await storedDpopBinding(credentials, session.provider.name);
    return binding
      ? sendWithDpop(base, input, init, credentials, binding)
      : base(input, withBearer(init, credentials));
  };

  return async (input, init) => {
    let credentials = await usable();
    let response = await send(input, init, credentials);
    if (!replayable(init)) return response;
    let renewed = false;
    let stepUps = 0;
    // The scopes the last step-up was for: the same challenge again means more sign-ins cannot help.
    let steppedUpFor: string | undefined;
    // Each turn either returns or spends one of the bounded retries.
    for (let turn = 0; turn <= maxStepUps + 1; turn += 1) {
      if (response.status === 401) {
        const challenges = await resourceChallenges(response);
        if (!credentials.dpopKey && dpopOnly(challenges)) {
          // A bearer login (stored before the server turned DPoP on, say) meets a server
          // that takes only DPoP: a new sign-in binds one, unless the provider refuses.
          await response.body?.cancel();
          const refusedByPolicy = (strategy as { dpop?: string }).dpop === 'refuse';
          if (refusedByPolicy || renewed) throw dpopRequired(session, refusedByPolicy);
          renewed = true;
          credentials = await session.reauthenticate();
          response = await send(input, init, credentials);
          continue;
        }
        if (renewed) {
          await response.body?.cancel();
          throw new LatchkeyError(
            'UNAUTHORIZED_LOOP',
            `The MCP server at ${new URL(String(input instanceof Request ? input.url : input)).origin} refused a freshly obtained token again. Latchkey stopped instead of signing in over and over; the server or its authorization server is misconfigured.`,
          );
        }
        renewed = true;
        await response.body?.cancel();
        credentials = await renew(challenges, credentials);
        response = await send(input, init, credentials);
        continue;
      }
      if (response.status === 403) {
        const challenges = await resourceChallenges(response);
        const challenge = challenges.bearer ?? challenges.dpop;
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
        response = await send(input, init, credentials);
        continue;
      }
      return response;
    }
    return response;
  };
}
