import type { Secret } from '../../secret.js';
import type { RedirectOptions } from '../common-types.js';
import type { DpopPolicy } from '../oauth/dpop.js';

/** Token endpoint authentication methods an MCP client may use (RFC 8414 names). */
export type McpClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

/** A client the host registered with the authorization server beforehand. */
export interface PreRegisteredClient {
  /** The client id. */
  readonly clientId: string;
  /** The client secret, for confidential clients. */
  readonly clientSecret?: Secret;
  /** How to authenticate; default: chosen from the server's supported methods. */
  readonly authMethod?: McpClientAuthMethod;
}

/** Credentials for the client credentials grant (machine to machine, no user). */
export type ClientCredentials =
  | {
      readonly clientId: string;
      readonly authMethod: 'client_secret_basic' | 'client_secret_post';
      readonly clientSecret: Secret;
    }
  | {
      readonly clientId: string;
      readonly authMethod: 'private_key_jwt';
      /** The private key signing the client assertion (RFC 7523). */
      readonly privateKey: CryptoKey;
      /** The key id put in the assertion's header. */
      readonly keyId?: string;
    };

/**
 * Cross-app access (enterprise-managed authorization): the user's single sign-on ID
 * Token is exchanged at the identity provider for an identity assertion grant, which
 * the MCP server's authorization server redeems. No browser is involved.
 */
export interface CrossAppAccess {
  /** The identity provider's token endpoint (RFC 8693 token exchange). */
  readonly idpTokenEndpoint: string;
  /** The identity provider's issuer; default: the token endpoint's origin. */
  readonly idpIssuer?: string;
  /** Latchkey's client id at the identity provider. */
  readonly idpClientId: string;
  /** Returns the user's current ID Token from the identity provider. */
  readonly idToken: () => Promise<Secret>;
  /** The client id at the MCP server's authorization server. */
  readonly clientId: string;
  /** The client secret there. */
  readonly clientSecret: Secret;
  /** How the client authenticates there; default `client_secret_basic`. */
  readonly authMethod: 'client_secret_basic' | 'client_secret_post';
}

/**
 * The JWT bearer grant for workload identity (RFC 7523 §2.1): a workload's signed
 * assertion, from its own identity provider, is redeemed for tokens. No user is involved;
 * every token request (the first and each renewal) gets a fresh assertion.
 */
export interface JwtBearerGrant {
  /** Returns a fresh signed assertion (a JWT). */
  readonly assertion: () => Promise<Secret>;
  /** The client id at the authorization server. */
  readonly clientId: string;
  /** The client secret there, for a confidential client. */
  readonly clientSecret?: Secret;
  /** How the client authenticates there: `none` without a secret, else `client_secret_basic` unless set. */
  readonly authMethod: McpClientAuthMethod;
}

/**
 * The `mcp` strategy: the MCP specification's authorization for a remote MCP server
 * (protected resource discovery, authorization server discovery, client registration,
 * PKCE with resource indicators, step-up).
 *
 * @see https://modelcontextprotocol.io/specification/draft/basic/authorization
 */
export interface McpStrategy {
  readonly kind: 'mcp';
  /** The MCP server's canonical URI (the RFC 8707 resource). */
  readonly serverUrl: string;
  /** A pre-registered client, tried first. */
  readonly client?: PreRegisteredClient;
  /** A client ID metadata document URL (https, with a path), tried second. */
  readonly clientMetadataUrl?: string;
  /** Client name for dynamic registration. */
  readonly clientName: string;
  /** Client home page for dynamic registration. */
  readonly clientUri?: string;
  /** Scopes to request on top of the ones the server asks for. */
  readonly scopes: readonly string[];
  /** Whether plain http is allowed on loopback hosts (development only). */
  readonly allowHttpLoopback: boolean;
  /** The loopback redirect's port and path. */
  readonly redirect: Readonly<RedirectOptions>;
  /** Use the client credentials grant instead of a user sign-in. */
  readonly clientCredentials?: ClientCredentials;
  /** Use cross-app access instead of a user sign-in. */
  readonly crossAppAccess?: CrossAppAccess;
  /** Use the JWT bearer grant (workload identity) instead of a user sign-in. */
  readonly jwtBearer?: JwtBearerGrant;
  /**
   * DPoP (RFC 9449): `auto` (the default) binds the tokens to a key of the login's own
   * when the authorization server advertises it; `require` refuses servers that do not;
   * `refuse` always uses bearer tokens.
   */
  readonly dpop: DpopPolicy;
}
