import { type Secret, secret } from '../../secret.js';
import type { JsonObject } from '../../store/types.js';
import type { RedirectOptions } from '../common-types.js';
import { checkEndpoint, checkFunction, checkRedirect, fail } from '../definition-checks.js';
import { RESERVED_AUTHORIZATION_PARAMS } from './authorization-request.js';
import { checkDpopPolicy, type DpopPolicy } from './dpop.js';
import type {
  AuthorizationParamsContext,
  ClientAuthentication,
  MappedTokenResponse,
  OAuthEndpoints,
  OAuthStrategy,
  TokenExchangeProxy,
} from './types.js';

/** The `oauth` strategy as a provider author writes it; {@link defineProvider} fills in defaults. */
export interface OAuthStrategyDefinition {
  kind: 'oauth';
  /** The issuer identifier (for example `https://accounts.google.com`). */
  issuer: string;
  /** Discover endpoints from the issuer. Default: `true` unless `endpoints` has both `authorization` and `token`. */
  discovery?: boolean;
  /** Static endpoints, overriding discovered ones. */
  endpoints?: Partial<OAuthEndpoints>;
  /** The OAuth client id. */
  clientId: string;
  /** The client secret, for services that require one even for installed apps. */
  clientSecret?: string | Secret;
  /** Token endpoint authentication. Default: `client_secret_basic` with a secret, else `none`. */
  clientAuthentication?: ClientAuthentication['method'];
  /** A token-exchange proxy URL (or object) that adds the secret server-side. */
  tokenExchange?: string | TokenExchangeProxy;
  /** Scopes to request. */
  scopes?: readonly string[];
  /** What joins scopes; default a space. */
  scopeSeparator?: string;
  /** Extra authorization request parameters, fixed or computed per sign-in. */
  authorizationParams?:
    | Record<string, string>
    | ((context: AuthorizationParamsContext) => Record<string, string>);
  /** Rewrites a non-standard token response into the RFC 6749 shape. */
  mapTokenResponse?: (body: JsonObject, status: number) => MappedTokenResponse;
  /** A fixed redirect port and path, for services that need an exact registered URI. */
  redirect?: Partial<RedirectOptions>;
  /**
   * DPoP (RFC 9449) token binding: `refuse` (default), `auto` when the authorization
   * server advertises it, or `require`. A DPoP-bound token cannot be handed to an MCP
   * server in its environment or files; use it where Latchkey sends the requests.
   */
  dpop?: DpopPolicy;
}

/** Checks an `oauth` strategy definition and fills in its defaults. */
export function normalizeOAuth(def: OAuthStrategyDefinition): OAuthStrategy {
  const issuer = checkEndpoint('strategy.issuer', def.issuer);

  const endpoints: Partial<OAuthEndpoints> = {};
  if (def.endpoints !== undefined) {
    if (typeof def.endpoints !== 'object' || def.endpoints === null) {
      fail('strategy.endpoints', 'must be an object');
    }
    for (const [name, value] of Object.entries(def.endpoints)) {
      if (value === undefined) continue;
      if (
        !['authorization', 'token', 'revocation', 'deviceAuthorization', 'userinfo'].includes(name)
      ) {
        fail(`strategy.endpoints.${name}`, 'is not a known endpoint');
      }
      endpoints[name as keyof OAuthEndpoints] = checkEndpoint(`strategy.endpoints.${name}`, value);
    }
  }
  const discovery = def.discovery ?? !(endpoints.authorization && endpoints.token);
  if (typeof discovery !== 'boolean') fail('strategy.discovery', 'must be a boolean');
  if (!discovery && !endpoints.authorization) {
    fail('strategy.endpoints.authorization', 'is required when discovery is off');
  }
  if (!discovery && !endpoints.token)
    fail('strategy.endpoints.token', 'is required when discovery is off');

  if (typeof def.clientId !== 'string' || def.clientId.trim() === '') {
    fail(
      'strategy.clientId',
      'is required: register an OAuth client with the service and pass its id',
    );
  }

  let tokenExchange: TokenExchangeProxy | undefined;
  if (def.tokenExchange !== undefined) {
    const url = typeof def.tokenExchange === 'string' ? def.tokenExchange : def.tokenExchange?.url;
    tokenExchange = { url: checkEndpoint('strategy.tokenExchange', url) };
  }

  if (
    def.clientSecret !== undefined &&
    typeof def.clientSecret !== 'string' &&
    !isSecret(def.clientSecret)
  ) {
    fail('strategy.clientSecret', 'must be a string');
  }
  if (typeof def.clientSecret === 'string' && def.clientSecret === '') {
    fail('strategy.clientSecret', 'must not be empty');
  }
  if (tokenExchange && def.clientSecret !== undefined) {
    fail(
      'strategy.tokenExchange',
      'cannot be combined with clientSecret: the proxy holds the secret',
    );
  }
  const method =
    def.clientAuthentication ?? (def.clientSecret !== undefined ? 'client_secret_basic' : 'none');
  let clientAuthentication: ClientAuthentication;
  if (method === 'none') {
    if (def.clientSecret !== undefined) {
      fail('strategy.clientAuthentication', 'is "none" but a clientSecret was given');
    }
    clientAuthentication = { method: 'none' };
  } else if (method === 'client_secret_basic' || method === 'client_secret_post') {
    if (def.clientSecret === undefined) {
      fail('strategy.clientSecret', `is required with clientAuthentication "${method}"`);
    }
    clientAuthentication = { method, clientSecret: secret(def.clientSecret) };
  } else {
    fail(
      'strategy.clientAuthentication',
      'must be "none", "client_secret_basic" or "client_secret_post"',
    );
  }

  const scopes = def.scopes ?? [];
  if (!Array.isArray(scopes)) fail('strategy.scopes', 'must be an array of strings');
  const scopeSeparator = def.scopeSeparator ?? ' ';
  if (typeof scopeSeparator !== 'string' || scopeSeparator === '') {
    fail('strategy.scopeSeparator', 'must be a non-empty string');
  }
  scopes.forEach((scope, i) => {
    if (
      typeof scope !== 'string' ||
      scope === '' ||
      /\s/.test(scope) ||
      scope.includes(scopeSeparator)
    ) {
      fail(`strategy.scopes[${i}]`, 'must be a non-empty scope name without spaces or separators');
    }
  });

  let authorizationParams: OAuthStrategy['authorizationParams'];
  const params = def.authorizationParams;
  if (typeof params === 'function') {
    authorizationParams = params;
  } else if (params !== undefined) {
    if (typeof params !== 'object' || params === null) {
      fail('strategy.authorizationParams', 'must be an object or a function');
    }
    for (const [name, value] of Object.entries(params)) {
      if (typeof value !== 'string')
        fail(`strategy.authorizationParams.${name}`, 'must be a string');
      if (RESERVED_AUTHORIZATION_PARAMS.has(name) || name === 'scope') {
        fail(`strategy.authorizationParams.${name}`, 'is set by Latchkey and cannot be overridden');
      }
    }
    const fixed = { ...params };
    authorizationParams = () => fixed;
  }
  checkFunction('strategy.mapTokenResponse', def.mapTokenResponse);

  const redirect = checkRedirect('strategy.redirect', def.redirect);
  const dpop = checkDpopPolicy('strategy.dpop', def.dpop, 'refuse');
  if (dpop !== 'refuse' && tokenExchange) {
    // A proof names the URL it is sent to: one made for the proxy is refused by the server.
    fail('strategy.dpop', `cannot be "${dpop}" with a tokenExchange proxy; use "refuse"`);
  }

  return {
    kind: 'oauth',
    issuer,
    discovery,
    ...(Object.keys(endpoints).length > 0 ? { endpoints: Object.freeze(endpoints) } : {}),
    clientId: def.clientId,
    clientAuthentication: Object.freeze(clientAuthentication),
    ...(tokenExchange ? { tokenExchange: Object.freeze(tokenExchange) } : {}),
    scopes: Object.freeze([...scopes]),
    scopeSeparator,
    ...(authorizationParams ? { authorizationParams } : {}),
    ...(def.mapTokenResponse ? { mapTokenResponse: def.mapTokenResponse } : {}),
    redirect,
    dpop,
  } satisfies OAuthStrategy;
}

function isSecret(value: unknown): value is Secret {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { reveal?: unknown }).reveal === 'function'
  );
}
