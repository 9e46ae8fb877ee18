import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';
import type { JsonObject } from '../../store/types.js';
import { endpointProblem, isInsecureLoopback } from '../../util/url.js';
import type { ProviderOf, RedirectOptions, StrategyBase } from '../common-types.js';
import type { DpopBinding } from './dpop.js';
import { isIssuerMismatch, toLatchkeyError } from './errors.js';
import type {
  ClientAuthentication,
  LinkedTokenResponse,
  MappedTokenResponse,
  OAuthStrategy,
  TokenExchangeProxy,
} from './types.js';

/** Extra values a provider's `mapTokenResponse` kept aside from one token response. */
export interface TokenResponseExtras {
  secrets: Record<string, string>;
  metadata: Record<string, string | number | boolean>;
  linkedTokens: Record<string, LinkedTokenResponse>;
}

/** How the flows talk to an authorization server: the client, scopes, redirect, extra parameters. */
export interface FlowSettings {
  /** The OAuth client id. */
  readonly clientId: string;
  /** How the client authenticates at the token endpoint. */
  readonly clientAuthentication: ClientAuthentication;
  /** A token-exchange proxy that holds the client secret. */
  readonly tokenExchange?: TokenExchangeProxy;
  /** Default scopes. */
  readonly scopes: readonly string[];
  /** What joins scopes. */
  readonly scopeSeparator: string;
  /** The loopback redirect's port and path. */
  readonly redirect: Readonly<RedirectOptions>;
  /** Rewrites non-standard token responses. */
  readonly mapTokenResponse?: (body: JsonObject, status: number) => MappedTokenResponse;
  /** Parameters sent with every token request (for example RFC 8707 `resource`). */
  readonly tokenParams?: Readonly<Record<string, string>>;
}

/**
 * Everything needed to talk to one provider's authorization server: its metadata,
 * the client, and how requests are sent. Made by {@link resolveAuthorizationServer}.
 */
export interface OAuthContext {
  /** The provider. */
  readonly provider: ProviderOf<StrategyBase>;
  /** The authorization server's metadata (discovered, then overridden by static endpoints). */
  readonly as: oauth.AuthorizationServer;
  /** The OAuth client, as oauth4webapi takes it. */
  readonly client: oauth.Client;
  /** The `fetch` every request goes through. */
  readonly fetch: typeof fetch;
  /**
   * The client and flow settings.
   * @internal
   */
  readonly settings: FlowSettings;
  /**
   * The metadata used for token requests: the token endpoint is the proxy when one is set.
   * @internal
   */
  readonly tokenAs: oauth.AuthorizationServer;
  /**
   * Client authentication for token requests (none through a proxy).
   * @internal
   */
  readonly clientAuth: oauth.ClientAuth;
  /**
   * Request options for a plain request to `url`.
   * @internal
   */
  requestOptions(url: string | undefined, signal?: AbortSignal): RequestOptions;
  /**
   * Request options for a token request, collecting what `mapTokenResponse` keeps aside.
   * @internal
   */
  tokenRequestOptions(signal?: AbortSignal): {
    options: oauth.TokenEndpointRequestOptions;
    extras: TokenResponseExtras;
  };
  /**
   * The DPoP key token requests prove possession of (RFC 9449), when the login is bound.
   * @internal
   */
  readonly dpop?: DpopBinding;
  /**
   * The same context, with token requests bound to `binding`.
   * @internal
   */
  withDpop(binding: DpopBinding): OAuthContext;
}

/** What an error message needs to know of a context's DPoP: proof sent, DPoP offered. */
export function dpopOf(context: OAuthContext): { sent: boolean; offered: boolean } {
  const offered = context.as.dpop_signing_alg_values_supported;
  return {
    sent: context.dpop !== undefined,
    offered: Array.isArray(offered) && offered.length > 0,
  };
}

/** oauth4webapi request options: the `fetch` to use, plain http only for loopback, and the signal. */
export interface RequestOptions {
  [oauth.customFetch]: typeof fetch;
  [oauth.allowInsecureRequests]: boolean;
  signal?: AbortSignal;
}

async function discover(
  issuer: string,
  fetchImpl: typeof fetch,
  signal: AbortSignal | undefined,
): Promise<oauth.AuthorizationServer> {
  const issuerUrl = new URL(issuer);
  const failures: string[] = [];
  for (const algorithm of ['oauth2', 'oidc'] as const) {
    let response: Response;
    try {
      response = await oauth.discoveryRequest(issuerUrl, {
        algorithm,
        [oauth.customFetch]: fetchImpl,
        [oauth.allowInsecureRequests]: isInsecureLoopback(issuer),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw toLatchkeyError(error, 'discovery');
    }
    if (response.status === 404) {
      failures.push(`${algorithm === 'oauth2' ? 'RFC 8414' : 'OpenID'} metadata: HTTP 404`);
      await response.body?.cancel();
      continue;
    }
    try {
      return await oauth.processDiscoveryResponse(issuerUrl, response);
    } catch (error) {
      if (isIssuerMismatch(error)) {
        throw new LatchkeyError(
          'ISSUER_MISMATCH',
          `The authorization server metadata at ${issuer} names another issuer, so it was not used. Check the provider's issuer setting.`,
        );
      }
      failures.push(
        `${algorithm === 'oauth2' ? 'RFC 8414' : 'OpenID'} metadata: ${toLatchkeyError(error, 'discovery').message}`,
      );
    }
  }
  throw new LatchkeyError(
    'DISCOVERY_FAILED',
    `Could not discover the authorization server ${issuer} (${failures.join('; ')}). Check the issuer URL, or give the provider static endpoints.`,
  );
}

function checkEndpoints(as: oauth.AuthorizationServer, allowHttpLoopback: boolean): void {
  const fields = [
    'authorization_endpoint',
    'token_endpoint',
    'revocation_endpoint',
    'device_authorization_endpoint',
    'userinfo_endpoint',
    'pushed_authorization_request_endpoint',
  ] as const;
  for (const field of fields) {
    const value = as[field];
    if (value === undefined) continue;
    const problem =
      typeof value === 'string' ? endpointProblem(value, allowHttpLoopback) : 'is not a string';
    if (problem) {
      throw new LatchkeyError(
        'INSECURE_ENDPOINT',
        `The authorization server's ${field} ${problem}; Latchkey will not send credentials to it.`,
      );
    }
  }
  if (!as.authorization_endpoint || !as.token_endpoint) {
    throw new LatchkeyError(
      'DISCOVERY_FAILED',
      `The authorization server metadata of ${as.issuer} lacks ${as.authorization_endpoint ? 'token_endpoint' : 'authorization_endpoint'}. Give the provider static endpoints.`,
    );
  }
}

/**
 * Resolves a provider's authorization server: discovers its metadata from the issuer
 * (RFC 8414, then OpenID Connect Discovery) unless discovery is off, applies static
 * endpoints, and checks every endpoint is https (or loopback http).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414 OAuth 2.0 Authorization Server Metadata
 */
export async function resolveAuthorizationServer(
  provider: ProviderOf<StrategyBase>,
  options: {
    /** The `fetch` used for every request. Default: the global `fetch`. */
    fetch?: typeof fetch;
    /** Aborts discovery. */
    signal?: AbortSignal;
    /**
     * Metadata known already (kept with a login), used instead of discovering it.
     * @internal
     */
    known?: oauth.AuthorizationServer;
  } = {},
): Promise<OAuthContext> {
  if (provider.strategy.kind !== 'oauth') {
    throw new TypeError('resolveAuthorizationServer() takes a provider with the oauth strategy');
  }
  const strategy = provider.strategy as OAuthStrategy;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const base: oauth.AuthorizationServer =
    options.known ??
    (strategy.discovery
      ? await discover(strategy.issuer, fetchImpl, options.signal)
      : { issuer: strategy.issuer });
  const e = strategy.endpoints ?? {};
  const as: oauth.AuthorizationServer = {
    ...base,
    ...(e.authorization ? { authorization_endpoint: e.authorization } : {}),
    ...(e.token ? { token_endpoint: e.token } : {}),
    ...(e.revocation ? { revocation_endpoint: e.revocation } : {}),
    ...(e.deviceAuthorization ? { device_authorization_endpoint: e.deviceAuthorization } : {}),
    ...(e.userinfo ? { userinfo_endpoint: e.userinfo } : {}),
  };
  return createOAuthContext(provider, as, strategy, { fetch: fetchImpl, allowHttpLoopback: true });
}

const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

/**
 * `client_secret_basic` (RFC 6749 §2.3.1). Values made only of unreserved characters
 * are sent as they are, which every server reads the same way whether or not it
 * form-decodes them; anything else is form-encoded first, as the RFC asks
 * (oauth4webapi's encoding).
 */
function clientSecretBasic(clientSecret: string): oauth.ClientAuth {
  const encoded = oauth.ClientSecretBasic(clientSecret);
  return (as, client, body, headers) => {
    if (!UNRESERVED.test(client.client_id) || !UNRESERVED.test(clientSecret)) {
      return encoded(as, client, body, headers);
    }
    const credentials = Buffer.from(`${client.client_id}:${clientSecret}`).toString('base64');
    headers.set('authorization', `Basic ${credentials}`);
  };
}

function toClientAuth(auth: ClientAuthentication): oauth.ClientAuth {
  switch (auth.method) {
    case 'none':
      return oauth.None();
    case 'client_secret_post':
      return oauth.ClientSecretPost(auth.clientSecret.reveal());
    case 'client_secret_basic':
      return clientSecretBasic(auth.clientSecret.reveal());
    case 'private_key_jwt':
      return oauth.PrivateKeyJwt(
        auth.keyId ? { key: auth.privateKey, kid: auth.keyId } : auth.privateKey,
      );
  }
}

/** Options of {@link createOAuthContext}. */
export interface ContextOptions {
  /** The `fetch` used for every request. */
  fetch: typeof fetch;
  /** Whether plain http is allowed on loopback hosts (development). */
  allowHttpLoopback: boolean;
  /** The DPoP key token requests prove possession of. */
  dpop?: DpopBinding;
}

/**
 * Makes an {@link OAuthContext} from known metadata, after checking that every
 * endpoint is https (or loopback http when allowed).
 */
export function createOAuthContext(
  provider: ProviderOf<StrategyBase>,
  as: oauth.AuthorizationServer,
  settings: FlowSettings,
  options: ContextOptions,
): OAuthContext {
  checkEndpoints(as, options.allowHttpLoopback);
  const fetchImpl = options.fetch;
  const tokenAs: oauth.AuthorizationServer = settings.tokenExchange
    ? { ...as, token_endpoint: settings.tokenExchange.url }
    : as;
  const auth = settings.clientAuthentication;
  const clientAuth = settings.tokenExchange ? oauth.None() : toClientAuth(auth);
  const client: oauth.Client = { client_id: settings.clientId };

  const requestOptions = (url: string | undefined, signal?: AbortSignal): RequestOptions => ({
    [oauth.customFetch]: fetchImpl,
    [oauth.allowInsecureRequests]:
      options.allowHttpLoopback && url !== undefined && isInsecureLoopback(url),
    ...(signal ? { signal } : {}),
  });

  const tokenRequestOptions = (signal?: AbortSignal) => {
    const extras: TokenResponseExtras = { secrets: {}, metadata: {}, linkedTokens: {} };
    const map = settings.mapTokenResponse;
    const tokenFetch: typeof fetch = map
      ? async (input, init) => {
          const response = await fetchImpl(input, init);
          const type = response.headers.get('content-type') ?? '';
          if (!type.includes('json')) return response;
          let body: unknown;
          try {
            body = await response.clone().json();
          } catch {
            return response;
          }
          if (typeof body !== 'object' || body === null || Array.isArray(body)) return response;
          const mapped = map(body as JsonObject, response.status);
          Object.assign(extras.secrets, mapped.secrets);
          Object.assign(extras.metadata, mapped.metadata);
          Object.assign(extras.linkedTokens, mapped.linkedTokens);
          const isError = typeof mapped.body.error === 'string';
          // The server's headers stay (DPoP-Nonce, WWW-Authenticate); only the body changes.
          const headers = new Headers(response.headers);
          headers.set('content-type', 'application/json');
          headers.delete('content-length');
          headers.delete('content-encoding');
          return new Response(JSON.stringify(mapped.body), {
            status: isError ? Math.max(response.status, 400) : response.status,
            headers,
          });
        }
      : fetchImpl;
    return {
      options: {
        ...requestOptions(tokenAs.token_endpoint, signal),
        [oauth.customFetch]: tokenFetch,
        ...(settings.tokenParams ? { additionalParameters: { ...settings.tokenParams } } : {}),
        ...(options.dpop ? { DPoP: options.dpop.handle } : {}),
      },
      extras,
    };
  };

  return {
    provider,
    settings,
    as,
    tokenAs,
    client,
    clientAuth,
    fetch: fetchImpl,
    requestOptions,
    tokenRequestOptions,
    ...(options.dpop ? { dpop: options.dpop } : {}),
    withDpop: (binding) =>
      createOAuthContext(provider, as, settings, { ...options, dpop: binding }),
  };
}
