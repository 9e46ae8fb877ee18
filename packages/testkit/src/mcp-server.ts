import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpHandler, McpServer as McpServerV2 } from '@modelcontextprotocol/server';
import { DPOP_ALGS, decodeDpopProof } from './dpop-proof.js';
import { readBodyText } from './http-body.js';
import { type PublicJwk, verifyEs256Jwt } from './jwt.js';
import { LOOPBACK_HOST } from './loopback-redirects.js';
import { RESOURCE_SERVER_AGENT } from './mcp-auth-server.js';
import {
  credentialsOf,
  DpopGate,
  type DpopRefusal,
  type DpopRefusalCode,
  decideDpop,
  dpopChallenge,
  type McpDpopMode,
  schemeOf,
} from './mcp-dpop.js';
import { tokenHash } from './token-hash.js';

/** Where and what the fixture publishes as protected resource metadata (RFC 9728). */
export interface ProtectedResourceMetadataOptions {
  /**
   * Paths the document is served at; the first is named in challenges. Default: the
   * well-known URL with the MCP endpoint's path.
   */
  paths?: string[];
  /** The `resource` to claim, or a function of the endpoint URL and origin. Default: the endpoint URL. */
  resource?: string | ((url: string, origin: string) => string);
  /** `scopes_supported`; `null` leaves it out. Default `['mcp:read', 'mcp:write']`. */
  scopesSupported?: string[] | null;
}

/** Options of {@link startMcpServer}. */
export interface McpServerOptions {
  /**
   * Issuers of the authorization servers, listed as `authorization_servers`; tokens are
   * accepted from the first one only.
   */
  authorizationServers?: string[];
  /** Path of the MCP endpoint. Default `/mcp`; `/` serves it at the origin. */
  path?: string;
  /** Scopes every request needs (named in 401 challenges). Default `['mcp:read']`. */
  requiredScopes?: string[];
  /** Scopes calling a tool needs, per tool. Default: `write-thing` needs `mcp:read mcp:write`. */
  toolScopes?: Record<string, ToolScopes>;
  /** Whether 401 challenges carry `scope`. Default true. */
  challengeScope?: boolean;
  /** Whether challenges carry `resource_metadata`. Default true. */
  challengeResourceMetadata?: boolean;
  /** Protected resource metadata; `false` publishes none (a 2025-03-26 server). */
  protectedResourceMetadata?: ProtectedResourceMetadataOptions | false;
  /** Checks tokens instead of the default (an ES256 JWT from the current authorization server). */
  verifyAccessToken?: (token: string) => Promise<AuthInfo>;
  /**
   * Which MCP SDK serves the endpoint: `v1` (`@modelcontextprotocol/sdk`, protocol
   * 2025-11-25 and older, stateless Streamable HTTP) or `v2` (`@modelcontextprotocol/server`'s
   * `createMcpHandler`: protocol 2026-07-28, and the 2025 era for older clients). The
   * authorization in front of it is the same. Default `v1`.
   */
  mcpSdk?: 'v1' | 'v2';
  /** Answers requests the fixture does not serve (a same-origin authorization server); true when handled. */
  fallback?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
  /**
   * DPoP (RFC 9449). `accept`: `Authorization: DPoP <token>` with a valid `DPoP` proof is
   * taken beside Bearer, and a DPoP-bound token (`cnf.jkt`) sent as Bearer is refused.
   * `require`: Bearer is refused with a `DPoP` challenge. The metadata then lists
   * `dpop_signing_alg_values_supported`. A custom `verifyAccessToken` reports a token's
   * binding as `extra.cnf.jkt`. Default: Bearer only.
   */
  dpop?: McpDpopMode;
  /**
   * With `dpop`: issue nonces. Every response carries the current `DPoP-Nonce`, and a
   * proof without it is answered `401 use_dpop_nonce` (default false).
   */
  dpopNonce?: boolean;
}

/** The scopes a tool needs, or a function deciding them on every call. */
export type ToolScopes = readonly string[] | (() => readonly string[]);

/** One request the MCP server saw, with the token reduced to a hash. */
export interface McpServerRequest {
  readonly method: string;
  readonly path: string;
  /** Hash ({@link tokenHash}) of the access token sent with the Bearer or DPoP scheme. */
  readonly token?: string;
  /** The scheme of the `Authorization` header, when it is one of these. */
  readonly scheme?: 'Bearer' | 'DPoP';
  /** RFC 7638 thumbprint of the key in the request's `DPoP` proof (read, not checked). */
  readonly dpopJkt?: string;
  /** The `jti` of the request's `DPoP` proof (read, not checked). */
  readonly dpopJti?: string;
  /** Why the DPoP checks refused the request (`dpop_required`: Bearer to a `require` server). */
  readonly dpopRefusal?: DpopRefusalCode;
  /** Whether a token came in the query string (`access_token`). */
  readonly tokenInQuery: boolean;
  /** The names of the query parameters. */
  readonly queryKeys: readonly string[];
  /** The JSON-RPC method, for MCP requests. */
  readonly rpcMethod?: string;
  /** The `MCP-Protocol-Version` header, when one was sent. */
  readonly protocolVersion?: string;
  /** The tool called, for `tools/call`. */
  readonly tool?: string;
  /** The response status (0 until it is known). */
  status: number;
}

/** A running MCP server fixture on `http://127.0.0.1:<port>`. */
export interface TestMcpServer {
  /** The MCP endpoint URL. */
  readonly url: string;
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** The URL challenges name as `resource_metadata` (the first metadata path). */
  readonly metadataUrl: string;
  /** The authorization servers currently listed. */
  authorizationServers(): readonly string[];
  /** Switches to other authorization servers: tokens of the old ones are refused from now on. */
  moveTo(...issuers: string[]): void;
  /** Changes the scopes a tool needs. */
  setToolScopes(tool: string, scopes: ToolScopes): void;
  /** Refuses (401 `invalid_token`) the tokens with these hashes ({@link tokenHash}), as if revoked. */
  revokeTokens(hashes: Iterable<string>): void;
  /** Refuses every token (401) while on. */
  refuseEveryToken(on: boolean): void;
  /** With `dpopNonce`: replaces the nonce, so proofs carrying the old one get `use_dpop_nonce`. */
  rotateNonce(): void;
  /** With `dpopNonce`: the nonce proofs must carry now. */
  dpopNonce(): string | undefined;
  /** Rewrites the `WWW-Authenticate` header of 401 and 403 responses; `undefined` stops. */
  rewriteChallenge(rewrite: ((header: string, status: number) => string) | undefined): void;
  /** The requests seen since start or the last {@link TestMcpServer.clearRequests}. */
  requests(): McpServerRequest[];
  /** Forgets the recorded requests. */
  clearRequests(): void;
  /** Stops the server and drops every connection. */
  close(): Promise<void>;
}

interface ExpressLikeReply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Runs the SDK's Express bearer middleware on plain node:http objects. */
function runBearerAuth(
  middleware: (req: unknown, res: unknown, next: (error?: unknown) => void) => unknown,
  req: IncomingMessage,
): Promise<ExpressLikeReply | undefined> {
  return new Promise((resolve, reject) => {
    const reply: ExpressLikeReply = { status: 200, headers: {}, body: undefined };
    const res = {
      set(name: string, value: string) {
        reply.headers[name.toLowerCase()] = value;
        return res;
      },
      status(code: number) {
        reply.status = code;
        return res;
      },
      json(body: unknown) {
        reply.body = body;
        resolve(reply);
        return res;
      },
    };
    Promise.resolve(
      middleware(req, res, (error?: unknown) => (error ? reject(error) : resolve(undefined))),
    ).catch(reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Reads the JSON-RPC method and tool of a request body (an object or a batch). */
function rpcOf(body: unknown): { method?: string; tool?: string } {
  const first = Array.isArray(body) ? body[0] : body;
  if (typeof first !== 'object' || first === null) return {};
  const message = first as { method?: unknown; params?: { name?: unknown } };
  const method = typeof message.method === 'string' ? message.method : undefined;
  const tool =
    method === 'tools/call' && typeof message.params?.name === 'string'
      ? message.params.name
      : undefined;
  return { ...(method ? { method } : {}), ...(tool ? { tool } : {}) };
}

/** Fetches and caches an issuer's signing keys, refetching once for an unknown `kid`. */
function keySource() {
  const cache = new Map<string, PublicJwk[]>();
  const load = async (issuer: string): Promise<PublicJwk[]> => {
    const headers = { 'user-agent': RESOURCE_SERVER_AGENT, accept: 'application/json' };
    let jwksUri: string | undefined;
    for (const suffix of ['oauth-authorization-server', 'openid-configuration']) {
      const url = new URL(issuer);
      const response = await fetch(
        `${url.origin}/.well-known/${suffix}${url.pathname.replace(/\/$/, '')}`,
        { headers },
      );
      if (!response.ok) {
        await response.body?.cancel();
        continue;
      }
      const metadata = (await response.json()) as { jwks_uri?: unknown };
      if (typeof metadata.jwks_uri === 'string') jwksUri = metadata.jwks_uri;
      break;
    }
    if (!jwksUri) throw new Error(`no jwks_uri for ${issuer}`);
    const response = await fetch(jwksUri, { headers });
    const { keys } = (await response.json()) as { keys?: PublicJwk[] };
    return keys ?? [];
  };
  return async (issuer: string, kid: unknown): Promise<PublicJwk[]> => {
    let keys = cache.get(issuer);
    if (!keys || (kid !== undefined && !keys.some((k) => k.kid === kid))) {
      keys = await load(issuer);
      cache.set(issuer, keys);
    }
    return keys;
  };
}

/** The `dpopJkt` and `dpopJti` of a request's `DPoP` header, read without checking. */
function proofFields(header: string | string[] | undefined): {
  dpopJkt?: string;
  dpopJti?: string;
} {
  if (typeof header !== 'string' || header === '') return {};
  try {
    const { jkt, claims } = decodeDpopProof(header);
    return {
      ...(jkt ? { dpopJkt: jkt } : {}),
      ...(typeof claims.jti === 'string' ? { dpopJti: claims.jti } : {}),
    };
  } catch {
    return {};
  }
}

/** What protected resource metadata says of DPoP (RFC 9728 section 2). */
function dpopMetadata(gate: DpopGate): Record<string, unknown> {
  return {
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    ...(gate.mode === 'require' ? { dpop_bound_access_tokens_required: true } : {}),
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Starts an MCP server on 127.0.0.1 with a random port, built from the MCP SDK's
 * `McpServer`, its Streamable HTTP transport (stateless) and its bearer middleware
 * `requireBearerAuth`. It publishes protected resource metadata (RFC 9728), answers
 * `401` with a `Bearer` challenge naming the metadata and the scope, and `403
 * insufficient_scope` for a tool whose scope the token lacks. Tools: `read-thing` and
 * `write-thing`. By default it accepts ES256 JWT access tokens of its current
 * authorization server (checked against its JWKS) whose `aud` is the MCP endpoint URL.
 * With `dpop` it also checks DPoP proofs (RFC 9449) itself, and binds tokens to their keys.
 *
 * @see https://modelcontextprotocol.io/specification/draft/basic/authorization
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7 DPoP at the resource server
 */
export async function startMcpServer(options: McpServerOptions = {}): Promise<TestMcpServer> {
  const path = options.path ?? '/mcp';
  let authorizationServers = [...(options.authorizationServers ?? [])];
  const requiredScopes = options.requiredScopes ?? ['mcp:read'];
  const toolScopes = new Map<string, ToolScopes>(
    Object.entries(options.toolScopes ?? { 'write-thing': ['mcp:read', 'mcp:write'] }),
  );
  const prm = options.protectedResourceMetadata;
  let log: McpServerRequest[] = [];
  const revoked = new Set<string>();
  let refuseAll = false;
  let rewrite: ((header: string, status: number) => string) | undefined;
  const keys = keySource();
  if (options.dpopNonce && !options.dpop) throw new TypeError('dpopNonce needs dpop');
  const gate = options.dpop ? new DpopGate(options.dpop, options.dpopNonce === true) : undefined;

  const server = createServer();
  const port = await listen(server);
  const origin = `http://${LOOPBACK_HOST}:${port}`;
  const url = path === '/' ? origin : `${origin}${path}`;
  const metadataPaths =
    prm === false
      ? []
      : (prm?.paths ?? [`/.well-known/oauth-protected-resource${path === '/' ? '' : path}`]);
  const metadataUrl = `${origin}${metadataPaths[0] ?? '/.well-known/oauth-protected-resource'}`;
  const claimed = prm === false ? undefined : prm?.resource;
  /** The `resource` the metadata publishes: tokens for it are accepted, as for the endpoint URL. */
  const published = typeof claimed === 'function' ? claimed(url, origin) : (claimed ?? url);

  const defaultVerify = async (token: string): Promise<AuthInfo> => {
    const issuer = authorizationServers[0];
    if (!issuer) throw new Error('no authorization server');
    const kid = (() => {
      try {
        return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()).kid;
      } catch {
        return undefined;
      }
    })();
    const claims = await verifyEs256Jwt(token, await keys(issuer, kid));
    if (claims.iss !== issuer) throw new Error('token from another authorization server');
    const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audience.includes(url) && !audience.includes(published)) {
      throw new Error('token for another resource');
    }
    const { cnf } = claims;
    return {
      token,
      clientId: String(claims.client_id ?? ''),
      scopes: typeof claims.scope === 'string' ? claims.scope.split(' ') : [],
      expiresAt: Number(claims.exp),
      resource: new URL(url),
      // The key binding (RFC 9449 section 6) is left for the DPoP checks.
      ...(typeof cnf === 'object' && cnf !== null ? { extra: { cnf } } : {}),
    };
  };
  const verify = options.verifyAccessToken ?? defaultVerify;
  const verifier = {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      const hash = tokenHash(token);
      if (refuseAll || revoked.has(hash)) throw new InvalidTokenError('The token was revoked');
      try {
        return await verify(token);
      } catch (error) {
        if (error instanceof InvalidTokenError) throw error;
        throw new InvalidTokenError(error instanceof Error ? error.message : 'Invalid token');
      }
    },
  };

  const challengeOf = (header: string, status: number): string => {
    let value = header;
    if (options.challengeScope === false && status === 401) {
      value = value.replace(/, scope="[^"]*"/, '');
    }
    if (options.challengeResourceMetadata === false || prm === false) {
      value = value.replace(/, resource_metadata="[^"]*"/, '');
    }
    return rewrite ? rewrite(value, status) : value;
  };

  /** Answers a refusal of the DPoP checks with a `DPoP` challenge, as the SDK builds its own. */
  const refuseDpop = (res: ServerResponse, refusal: DpopRefusal, scopes: readonly string[]) => {
    const required = refusal.code === 'dpop_required';
    const withScope = !(options.challengeScope === false && refusal.status === 401);
    const withMetadata = options.challengeResourceMetadata !== false && prm !== false;
    const header = dpopChallenge({
      ...(required ? {} : { code: refusal.code, description: refusal.message }),
      ...(withScope ? { scope: scopes } : {}),
      ...(withMetadata ? { resourceMetadata: metadataUrl } : {}),
    });
    send(
      res,
      refusal.status,
      { ...(required ? {} : { error: refusal.code }), error_description: refusal.message },
      { 'www-authenticate': rewrite ? rewrite(header, refusal.status) : header },
    );
  };

  /** A 401 Bearer challenge of the SDK; a DPoP server offers DPoP beside it. */
  const bearerChallengeOf = (header: string, status: number): string =>
    challengeOf(
      gate && status === 401 ? `${header}, DPoP algs="${DPOP_ALGS.join(' ')}"` : header,
      status,
    );

  /**
   * Authorizes a request, leaving the verified token on `req.auth`; false when it was
   * answered with a refusal.
   */
  const authorize = async (
    req: IncomingMessage,
    res: ServerResponse,
    record: McpServerRequest,
    scopes: string[],
  ): Promise<boolean> => {
    let bearerVerifier = verifier;
    if (gate) {
      const decision = await decideDpop(gate, req, { url, scopes, verifier });
      if ('refused' in decision) {
        Object.assign(record, { dpopRefusal: decision.refused.code });
        refuseDpop(res, decision.refused, scopes);
        return false;
      }
      if ('auth' in decision) {
        (req as IncomingMessage & { auth?: AuthInfo }).auth = decision.auth;
        return true;
      }
      bearerVerifier = decision.verifier;
    }
    const middleware = requireBearerAuth({
      verifier: bearerVerifier,
      requiredScopes: scopes,
      ...(prm === false ? {} : { resourceMetadataUrl: metadataUrl }),
      expectedResource: new URL(url),
    });
    const refusal = await runBearerAuth(middleware, req);
    if (!refusal) return true;
    const header = refusal.headers['www-authenticate'];
    send(
      res,
      refusal.status,
      refusal.body,
      header ? { 'www-authenticate': bearerChallengeOf(header, refusal.status) } : {},
    );
    return false;
  };

  const v2Handler =
    options.mcpSdk === 'v2'
      ? toNodeHandler(
          createMcpHandler(() => {
            const mcp = new McpServerV2({ name: 'latchkey-testkit-mcp', version: '1.0.0' });
            for (const name of ['read-thing', 'write-thing']) {
              mcp.registerTool(name, { description: `The ${name} tool.` }, async (ctx) => ({
                content: [
                  {
                    type: 'text',
                    text: `${name} done for ${ctx.http?.authInfo?.clientId ?? 'nobody'}`,
                  },
                ],
              }));
            }
            return mcp;
          }),
        )
      : undefined;

  const mcpApp = (): McpServer => {
    const mcp = new McpServer({ name: 'latchkey-testkit-mcp', version: '1.0.0' });
    for (const name of ['read-thing', 'write-thing']) {
      mcp.registerTool(name, { description: `The ${name} tool.` }, async (extra) => ({
        content: [
          {
            type: 'text',
            text: `${name} done for ${extra.authInfo?.clientId ?? 'nobody'}`,
          },
        ],
      }));
    }
    return mcp;
  };

  const handleMcp = async (req: IncomingMessage, res: ServerResponse, record: McpServerRequest) => {
    let body: unknown;
    if (req.method === 'POST') {
      try {
        body = JSON.parse(await readBodyText(req));
      } catch {
        send(res, 400, { error: 'invalid JSON' });
        return;
      }
      const rpc = rpcOf(body);
      if (rpc.method) Object.assign(record, { rpcMethod: rpc.method });
      if (rpc.tool) Object.assign(record, { tool: rpc.tool });
    }
    const needed = record.tool ? toolScopes.get(record.tool) : undefined;
    const scopes = [
      ...new Set([
        ...requiredScopes,
        ...(typeof needed === 'function' ? needed() : (needed ?? [])),
      ]),
    ];
    if (!(await authorize(req, res, record, scopes))) return;
    if (req.method !== 'POST') {
      send(res, 405, { error: 'method not allowed' }, { allow: 'POST' });
      return;
    }
    if (v2Handler) {
      // Authorization above left the verified token on `req.auth`.
      await v2Handler(req, res, body);
      return;
    }
    const mcp = mcpApp();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close().catch(() => {});
      void mcp.close().catch(() => {});
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const requestUrl = new URL(req.url ?? '/', origin);
    const authorization = req.headers.authorization;
    const credentials = credentialsOf(authorization);
    const scheme = schemeOf(authorization);
    const record: McpServerRequest = {
      method: req.method ?? 'GET',
      path: requestUrl.pathname,
      ...(credentials ? { token: tokenHash(credentials.token) } : {}),
      ...(scheme ? { scheme } : {}),
      ...proofFields(req.headers.dpop),
      ...(typeof req.headers['mcp-protocol-version'] === 'string'
        ? { protocolVersion: req.headers['mcp-protocol-version'] }
        : {}),
      tokenInQuery: requestUrl.searchParams.has('access_token'),
      queryKeys: [...requestUrl.searchParams.keys()],
      status: 0,
    };
    log.push(record);
    const nonce = gate?.nonce();
    if (nonce) res.setHeader('DPoP-Nonce', nonce);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    void (async () => {
      if (req.method === 'GET' && metadataPaths.includes(requestUrl.pathname)) {
        const scopes = prm === false ? undefined : prm?.scopesSupported;
        send(res, 200, {
          resource: published,
          authorization_servers: authorizationServers,
          ...(scopes === null ? {} : { scopes_supported: scopes ?? ['mcp:read', 'mcp:write'] }),
          bearer_methods_supported: ['header'],
          ...(gate ? dpopMetadata(gate) : {}),
        });
        return;
      }
      if (requestUrl.pathname === path) {
        await handleMcp(req, res, record);
        return;
      }
      if (options.fallback && (await options.fallback(req, res))) return;
      send(res, 404, { error: 'not found' });
    })().catch(() => {
      if (!res.headersSent) send(res, 500, { error: 'server_error' });
      else res.end();
    });
  });

  let closing: Promise<void> | undefined;
  return {
    url,
    origin,
    metadataUrl,
    authorizationServers: () => [...authorizationServers],
    moveTo: (...issuers) => {
      authorizationServers = [...issuers];
    },
    setToolScopes: (tool, scopes) => {
      toolScopes.set(tool, scopes);
    },
    revokeTokens: (hashes) => {
      for (const hash of hashes) revoked.add(hash);
    },
    refuseEveryToken: (on) => {
      refuseAll = on;
    },
    rotateNonce: () => gate?.rotateNonce(),
    dpopNonce: () => gate?.nonce(),
    rewriteChallenge: (next) => {
      rewrite = next;
    },
    requests: () => log.map((entry) => ({ ...entry })),
    clearRequests: () => {
      log = [];
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
