import type { Credentials } from '../credentials.js';
import type { Secret } from '../secret.js';

/**
 * How a running server gets new credentials after a refresh:
 * - `self`: it refreshes by itself with what it was given at start; Latchkey does nothing.
 * - `restart`: Latchkey refreshes before expiry, rewrites the files and environment,
 *   and restarts the server (stdio), or reconnects with new headers (http).
 * - `per-request`: every HTTP request carries headers built from fresh credentials (http only).
 */
export type RefreshPolicy = 'self' | 'restart' | 'per-request';

/**
 * A server that Latchkey starts as a child process and talks to over stdin and stdout.
 *
 * @see https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#stdio
 */
export interface StdioTransportSpec {
  readonly kind: 'stdio';
  /** The program to run (a path, or a name looked up on `PATH`). */
  readonly command: string;
  /** Arguments before the ones the recipe's `inject` adds. */
  readonly args?: readonly string[];
  /** The working directory (default: the host's). */
  readonly cwd?: string;
  /** Fixed, non-secret environment variables the server needs. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * A server that already runs somewhere and speaks Streamable HTTP at `url`.
 *
 * @see https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#streamable-http
 */
export interface HttpTransportSpec {
  readonly kind: 'http';
  /** The MCP endpoint: `https:`, or `http:` on a loopback host. */
  readonly url: string;
}

/** Where a server runs and how Latchkey talks to it. */
export type ServerTransportSpec = StdioTransportSpec | HttpTransportSpec;

/**
 * A credential value a recipe needs: a token, an expiry, a named entry of
 * `Credentials.secrets` (`secrets.<name>`) or of `Credentials.metadata` (`metadata.<name>`),
 * or a part of the provider's OAuth client ({@link InjectContext.client}).
 */
export type CredentialField =
  | 'accessToken'
  | 'refreshToken'
  | 'idToken'
  | 'expiresAt'
  | `secrets.${string}`
  | `metadata.${string}`
  | 'client.clientId'
  | 'client.clientSecret';

/**
 * A value `inject` hands to the server. Return a {@link Secret} for every value derived
 * from a credential (a token, a header built from one): Latchkey masks those in the
 * server's stderr and in every message, and reveals them only where they are written.
 */
export type InjectedValue = string | Secret;

/** What a recipe's `inject` gives the server. */
export interface Injection {
  /** Environment variables, on top of the safe default environment. */
  env?: Readonly<Record<string, InjectedValue>>;
  /** Arguments appended to the transport's. Other users can see them (`ps`): no secrets. */
  args?: readonly string[];
  /** Files written into the private launch directory (`0600`), by file name. */
  files?: Readonly<Record<string, InjectedValue>>;
  /** HTTP headers sent with every request (http transport). */
  headers?: Readonly<Record<string, InjectedValue>>;
}

/**
 * The OAuth client a provider signs in with, for servers that refresh tokens by
 * themselves and must present the same client.
 */
export interface ProviderClient {
  /** The client id. */
  readonly clientId: string;
  /** The client secret, when the provider holds one (not with a token-exchange proxy). */
  readonly clientSecret?: Secret;
}

/** What `inject` gets besides the credentials. */
export interface InjectContext {
  /** The recipe id. */
  readonly serverId: string;
  /**
   * The private per-launch directory (`0700`) that `files` are written into. Only stdio
   * servers have one; reading it for an http server throws `SERVER_CONFIG`.
   */
  readonly dir: string;
  /** The absolute path a file named in `files` will have: `join(dir, name)`. */
  path(name: string): string;
  /**
   * The OAuth client of the session's provider (`oauth` strategy, or an `mcp` provider's
   * pre-registered client). Absent when the server is launched with plain credentials.
   * A recipe that reads it declares `client.clientId` or `client.clientSecret`.
   */
  readonly client?: ProviderClient;
}

/** Turns credentials into what one server reads. Called at launch and after every refresh. */
export type InjectFunction = (credentials: Credentials, context: InjectContext) => Injection;

/** What {@link defineServer} takes. */
export interface ServerDefinition {
  /** A stable id: letters, digits, `.`, `_`, `-`; at most 64 characters. */
  id: string;
  /** A display name; defaults to the id. */
  name?: string;
  /** Where the server runs. */
  transport: ServerTransportSpec;
  /** The provider id the credentials must come from, when only one provider fits. */
  provider?: string;
  /** Credential values `inject` reads; launching without one fails with `MISSING_CREDENTIAL`. */
  credentials?: readonly CredentialField[];
  /** Scopes the server needs; launching without one fails with `INSUFFICIENT_SCOPE`. */
  scopes?: readonly string[];
  /** How credentials reach the server. Omit for servers that need none. */
  inject?: InjectFunction;
  /**
   * How new credentials reach a running server. Default: `restart` for stdio,
   * `per-request` for http, `self` when there is no `inject`.
   */
  refresh?: RefreshPolicy;
}

/**
 * A recipe: how to run one MCP server and hand it credentials. Plain, frozen data made
 * by {@link defineServer}.
 */
export interface McpServerSpec {
  /** The recipe id; events and errors name the server by it. */
  readonly id: string;
  /** The display name. */
  readonly name: string;
  /** Where the server runs. */
  readonly transport: ServerTransportSpec;
  /** The provider id the credentials must come from, if any. */
  readonly provider?: string;
  /** Credential values the recipe needs. */
  readonly credentials: readonly CredentialField[];
  /** Scopes the server needs. */
  readonly scopes: readonly string[];
  /** Turns credentials into env, args, files and headers. */
  readonly inject: InjectFunction;
  /** How new credentials reach the running server. */
  readonly refresh: RefreshPolicy;
}
