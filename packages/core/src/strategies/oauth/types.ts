import type { Secret } from '../../secret.js';
import type { JsonObject } from '../../store/types.js';
import type { RedirectOptions } from '../common-types.js';
import type { DpopPolicy } from './dpop.js';

/** Static OAuth endpoints, used instead of (or on top of) discovered metadata. */
export interface OAuthEndpoints {
  /** Authorization endpoint (RFC 6749 §3.1). */
  authorization: string;
  /** Token endpoint (RFC 6749 §3.2). */
  token: string;
  /** Revocation endpoint (RFC 7009). */
  revocation?: string;
  /** Device authorization endpoint (RFC 8628). */
  deviceAuthorization?: string;
  /** OpenID Connect userinfo endpoint, used to name the account. */
  userinfo?: string;
}

/** How the client authenticates at the token endpoint (RFC 6749 §2.3). */
export type ClientAuthentication =
  | { method: 'none' }
  | { method: 'client_secret_basic' | 'client_secret_post'; clientSecret: Secret }
  /** RFC 7523 client assertion signed with a private key. */
  | { method: 'private_key_jwt'; privateKey: CryptoKey; keyId?: string };

/**
 * A token-exchange proxy run by the host's backend. Latchkey sends token requests
 * (code exchange and refresh) to `url` as a public client; the proxy adds the client
 * secret and forwards them to the real token endpoint. This is how an app avoids
 * shipping a client secret.
 */
export interface TokenExchangeProxy {
  /** The proxy's URL; https, or http on loopback. */
  url: string;
}

/** What {@link OAuthStrategy.authorizationParams} is told when it is asked for parameters. */
export interface AuthorizationParamsContext {
  /** Whether the account being signed in to already has a stored refresh token. */
  hasRefreshToken: boolean;
  /** The account asked for, when the host named one. */
  account?: string;
  /** The scopes being requested. */
  scopes: readonly string[];
}

/** A token response rewritten into the RFC 6749 shape, plus values the provider keeps aside. */
export interface MappedTokenResponse {
  /** An RFC 6749 §5.1 token response, or an RFC 6749 §5.2 error response (with `error`). */
  body: JsonObject;
  /** Further secret values to keep with the credentials (for example a second token). */
  secrets?: Record<string, string>;
  /** Further non-secret values to keep with the credentials (for example a team name). */
  metadata?: Record<string, string | number | boolean>;
  /**
   * Further tokens the response carries, each with a refresh token and lifetime of its
   * own (Slack's user token beside its bot token), by the secret name to keep each
   * under. Latchkey keeps the token as that secret and refreshes it with its own refresh
   * token whenever it refreshes the login; the answer to that refresh is mapped by the
   * same function, and its `access_token`, `refresh_token` and `expires_in` renew the
   * linked token.
   */
  linkedTokens?: Record<string, LinkedTokenResponse>;
}

/** A further token of a token response, in the RFC 6749 §5.1 shape. */
export interface LinkedTokenResponse {
  /** The token. */
  access_token: string;
  /** Its own refresh token. */
  refresh_token?: string;
  /** Its lifetime in seconds. */
  expires_in?: number;
}

/**
 * The `oauth` strategy: authorization code with PKCE against a service, through a
 * loopback redirect (RFC 8252), with refresh, revocation and headless fallbacks.
 */
export interface OAuthStrategy {
  readonly kind: 'oauth';
  /** The authorization server's issuer identifier; the `iss` it sends is checked against it (RFC 9207). */
  readonly issuer: string;
  /** Whether metadata is discovered from the issuer (RFC 8414, then OpenID Connect Discovery). */
  readonly discovery: boolean;
  /** Static endpoints; they override discovered ones. */
  readonly endpoints?: Readonly<Partial<OAuthEndpoints>>;
  /** The OAuth client id. */
  readonly clientId: string;
  /** How the client authenticates at the token endpoint. */
  readonly clientAuthentication: ClientAuthentication;
  /** A token-exchange proxy that holds the client secret. */
  readonly tokenExchange?: TokenExchangeProxy;
  /** Scopes requested at sign-in. */
  readonly scopes: readonly string[];
  /** What joins scopes in the `scope` parameter; a space by default (Slack uses commas). */
  readonly scopeSeparator: string;
  /** Extra authorization request parameters (for example `access_type=offline`). */
  readonly authorizationParams?: (context: AuthorizationParamsContext) => Record<string, string>;
  /** Rewrites a non-standard token response before it is processed. */
  readonly mapTokenResponse?: (body: JsonObject, status: number) => MappedTokenResponse;
  /** The redirect listener's port and path. */
  readonly redirect: Readonly<RedirectOptions>;
  /**
   * DPoP (RFC 9449) token binding: `refuse` (the default) for bearer tokens, which
   * recipes can hand to servers; `auto` when the authorization server advertises it;
   * `require` to refuse servers that do not. Bound tokens work only where Latchkey makes
   * the requests itself.
   */
  readonly dpop: DpopPolicy;
}
