/// <reference path="./oidc-provider.d.ts" />
import type { KoaContext, KoaMiddleware } from 'oidc-provider';
import { type AuthServerOptions, startAuthServer, type TestAuthServer } from './auth-server.js';
import { decodeDpopProof } from './dpop-proof.js';
import { tokenHash } from './token-hash.js';

/** Scopes the MCP authorization server knows besides the testkit's usual ones. */
export const MCP_SCOPES = ['mcp:read', 'mcp:write'];

/** The `user-agent` the MCP server fixture sends when it fetches an authorization server's keys. */
export const RESOURCE_SERVER_AGENT = 'latchkey-testkit-mcp-server';

/** What one request to an authorization server carried, with secrets reduced to hashes. */
export interface AuthServerRequest {
  readonly method: string;
  readonly path: string;
  /**
   * What the request was for (`authorization`: a new authorization request, not its
   * resumption; `pushed_authorization`: a pushed authorization request, RFC 9126).
   */
  readonly endpoint:
    | 'metadata'
    | 'authorization'
    | 'pushed_authorization'
    | 'token'
    | 'registration'
    | 'revocation'
    | 'jwks'
    | 'other';
  readonly status: number;
  /** The `grant_type` of a token request. */
  readonly grantType?: string;
  /** The client id, from the query, the form body or HTTP Basic authentication. */
  readonly clientId?: string;
  /** How the client authenticated at the token or revocation endpoint. */
  readonly clientAuth?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
  /** Every `resource` parameter value (RFC 8707). */
  readonly resource?: readonly string[];
  /** The `scope` parameter. */
  readonly scope?: string;
  /** The `redirect_uri` parameter. */
  readonly redirectUri?: string;
  /** Hashes ({@link tokenHash}) of every token presented: refresh tokens, revoked tokens, bearer tokens. */
  readonly presentedTokens: readonly string[];
  /** Whether the query string carried an `access_token` or `refresh_token`. */
  readonly tokenInQuery: boolean;
  /** The client metadata of a registration request (RFC 7591); holds no secret. */
  readonly registration?: Readonly<Record<string, unknown>>;
  /** Whether the MCP server fixture sent it (to fetch keys), rather than the client under test. */
  readonly fromResourceServer: boolean;
  /**
   * The `DPoP` proof the request carried, read without checking it (oidc-provider does):
   * the RFC 7638 SHA-256 thumbprint of its key and its `htm`, `htu` and `nonce` claims.
   */
  readonly dpop?: AuthServerDpop;
  /** The `dpop_jkt` parameter of an authorization request, pushed or not (RFC 9449 section 10). */
  readonly authorizationDpopJkt?: string;
}

/** What a request's DPoP proof said (see {@link AuthServerRequest.dpop}). */
export interface AuthServerDpop {
  readonly jkt: string;
  readonly htm?: string;
  readonly htu?: string;
  readonly nonce?: string;
}

/** Options of {@link startMcpAuthServer}: those of `startAuthServer` with MCP defaults. */
export type McpAuthServerOptions = Omit<AuthServerOptions, 'middleware'>;

/**
 * An oidc-provider authorization server set up the way MCP servers expect one: open
 * dynamic client registration, resource indicators giving ES256 JWT access tokens whose
 * `aud` is the MCP server URL, rotating refresh tokens, `mcp:read`/`mcp:write` scopes.
 * Every request is recorded, with secrets reduced to hashes.
 */
export interface McpAuthServer extends TestAuthServer {
  /** Where the signing keys are published. */
  readonly jwksUri: string;
  /** The requests seen since start or the last {@link McpAuthServer.clearRequests}. */
  requests(): AuthServerRequest[];
  /** Forgets the recorded requests. */
  clearRequests(): void;
  /** Hashes of every access and refresh token this server issued. */
  issuedTokens(): ReadonlySet<string>;
  /** Client ids handed out by dynamic registration, in order. */
  registeredClients(): readonly string[];
  /**
   * Answers the next token request whose DPoP proof carries a nonce with `400
   * use_dpop_nonce` and a `DPoP-Nonce` header, as when a nonce has run out. The header
   * repeats the proof's nonce, which oidc-provider still accepts, so one retry succeeds.
   * The refused request is recorded without its form fields and left out of `counts()`.
   * (oidc-provider derives its nonces from a secret it copies at start, changing every
   * minute, so they cannot be rotated from outside.)
   */
  refuseNextDpopNonce(): void;
}

function endpointOf(method: string, path: string): AuthServerRequest['endpoint'] {
  if (path.startsWith('/.well-known/')) return 'metadata';
  // `/auth/<uid>` resumes an authorization after login and consent: not a new one.
  if (path === '/auth') return 'authorization';
  if (path === '/jwks') return 'jwks';
  if (method === 'POST' && path === '/token') return 'token';
  if (method === 'POST' && path === '/request') return 'pushed_authorization';
  if (method === 'POST' && path === '/reg') return 'registration';
  if (method === 'POST' && path === '/token/revocation') return 'revocation';
  return 'other';
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

function texts(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return undefined;
}

function basicClientId(header: string): string | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decodeURIComponent(decoded.slice(0, colon));
}

/** Reads the request's `DPoP` header, if it holds a proof with a usable key. */
function dpopOf(ctx: KoaContext): AuthServerDpop | undefined {
  const proof = ctx.get('dpop');
  if (!proof) return undefined;
  let decoded: ReturnType<typeof decodeDpopProof>;
  try {
    decoded = decodeDpopProof(proof);
  } catch {
    return undefined;
  }
  if (!decoded.jkt) return undefined;
  const { htm, htu, nonce } = decoded.claims;
  return {
    jkt: decoded.jkt,
    ...(typeof htm === 'string' ? { htm } : {}),
    ...(typeof htu === 'string' ? { htu } : {}),
    ...(typeof nonce === 'string' ? { nonce } : {}),
  };
}

function recordOf(ctx: KoaContext): AuthServerRequest {
  const query = new URLSearchParams(ctx.querystring);
  const body = (ctx.oidc?.body ?? {}) as Record<string, unknown>;
  const endpoint = endpointOf(ctx.method, ctx.path);
  const authorization = ctx.get('authorization');
  const basic = basicClientId(authorization);
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
  const presented = [
    text(body.refresh_token),
    text(body.token),
    text(body.assertion),
    bearer,
  ].filter((v): v is string => v !== undefined);
  const params = (name: string) => text(body[name]) ?? query.get(name) ?? undefined;
  const resource =
    texts(body.resource) ?? (query.has('resource') ? query.getAll('resource') : undefined);
  const clientId = basic ?? params('client_id');
  const clientAuth = basic
    ? 'client_secret_basic'
    : body.client_assertion !== undefined
      ? 'private_key_jwt'
      : body.client_secret !== undefined
        ? 'client_secret_post'
        : 'none';
  const registration =
    endpoint === 'registration'
      ? (JSON.parse(JSON.stringify(body)) as Record<string, unknown>)
      : undefined;
  const grantType = text(body.grant_type);
  const scope = params('scope');
  const redirectUri = params('redirect_uri');
  const dpop = dpopOf(ctx);
  const dpopJkt = params('dpop_jkt');
  return {
    method: ctx.method,
    path: ctx.path,
    endpoint,
    status: ctx.status,
    ...(grantType ? { grantType } : {}),
    ...(clientId ? { clientId } : {}),
    ...(endpoint === 'token' || endpoint === 'revocation' ? { clientAuth } : {}),
    ...(resource ? { resource } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...(redirectUri ? { redirectUri } : {}),
    presentedTokens: presented.map(tokenHash),
    tokenInQuery: query.has('access_token') || query.has('refresh_token'),
    ...(registration ? { registration } : {}),
    fromResourceServer: ctx.get('user-agent') === RESOURCE_SERVER_AGENT,
    ...(dpop ? { dpop } : {}),
    ...(dpopJkt ? { authorizationDpopJkt: dpopJkt } : {}),
  };
}

/**
 * Koa middleware behind {@link McpAuthServer.refuseNextDpopNonce}: while armed, answers
 * the next token request whose proof carries a nonce itself, as oidc-provider answers a
 * stale one.
 */
function nonceRefusal(armed: { next: boolean }): KoaMiddleware {
  return async (ctx, next) => {
    const nonce =
      armed.next && ctx.method === 'POST' && ctx.path === '/token' && dpopOf(ctx)?.nonce;
    if (!nonce) {
      await next();
      return;
    }
    armed.next = false;
    ctx.status = 400;
    ctx.set('cache-control', 'no-store');
    ctx.set('dpop-nonce', nonce);
    ctx.body = { error: 'use_dpop_nonce', error_description: 'invalid nonce in DPoP proof' };
  };
}

/** Starts an oidc-provider authorization server for MCP on 127.0.0.1 with a random port. */
export async function startMcpAuthServer(
  options: McpAuthServerOptions = {},
): Promise<McpAuthServer> {
  let log: AuthServerRequest[] = [];
  const issued = new Set<string>();
  const registered: string[] = [];
  const recorder: KoaMiddleware = async (ctx, next) => {
    try {
      await next();
    } finally {
      log.push(recordOf(ctx));
      const body: unknown = ctx.body;
      if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
        const fields = body as Record<string, unknown>;
        for (const field of ['access_token', 'refresh_token']) {
          const value = fields[field];
          if (typeof value === 'string') issued.add(tokenHash(value));
        }
        if (ctx.path === '/reg' && typeof fields.client_id === 'string') {
          registered.push(fields.client_id);
        }
      }
    }
  };
  const nonceArmed = { next: false };
  const server = await startAuthServer({
    dynamicRegistration: true,
    accessTokenFormat: 'jwt',
    ...options,
    extraScopes: [...MCP_SCOPES, ...(options.extraScopes ?? [])],
    middleware: [recorder, nonceRefusal(nonceArmed)],
  });
  return {
    ...server,
    jwksUri: `${server.issuer}/jwks`,
    requests: () => [...log],
    clearRequests: () => {
      log = [];
    },
    issuedTokens: () => issued,
    registeredClients: () => [...registered],
    refuseNextDpopNonce: () => {
      nonceArmed.next = true;
    },
  };
}
