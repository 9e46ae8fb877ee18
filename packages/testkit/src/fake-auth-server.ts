import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  authenticateClient,
  type ClientAssertionRecord,
  type FakeClient,
} from './fake-client-auth.js';
import { readBodyText } from './http-body.js';
import { generateEs256Key, signEs256Jwt, verifyEs256Jwt } from './jwt.js';
import { LOOPBACK_HOST } from './loopback-redirects.js';
import { type AuthServerRequest, RESOURCE_SERVER_AGENT } from './mcp-auth-server.js';
import { tokenHash } from './token-hash.js';

/** Options of {@link createFakeAuthServer}. */
export interface FakeAuthServerOptions {
  /** Path of the issuer below the origin, such as `/tenant1`. Default: none. */
  issuerPath?: string;
  /**
   * Changes the metadata document before it is served; returning `undefined` publishes
   * none (every metadata URL answers 404).
   */
  metadata?: (standard: Record<string, unknown>) => Record<string, unknown> | undefined;
  /** Paths the metadata is served at. Default: RFC 8414 and OpenID Connect, path appended. */
  metadataPaths?: (issuerPath: string) => string[];
  /** Changes the authorization response (the redirect's query), given the request's query. */
  authorizationResponse?: (response: URLSearchParams, request: URLSearchParams) => void;
  /** Pre-registered clients. */
  clients?: FakeClient[];
  /** Changes a registration response (RFC 7591 §3.2) before it is sent. */
  registrationResponse?: (client: Record<string, unknown>) => Record<string, unknown>;
  /** Scopes granted for the requested ones. Default: all of them. */
  grantScopes?: (requested: string[]) => string[];
  /** Access token lifetime in seconds. Default 3600. */
  accessTokenTtl?: number;
  /** Whether refresh tokens are issued. Default true. */
  refreshTokens?: boolean;
}

export type { ClientAssertionRecord, FakeClient } from './fake-client-auth.js';

/** One request to the fake authorization server, with secrets reduced to hashes. */
export type FakeAuthServerRequest = AuthServerRequest & {
  /** The client assertion of a `private_key_jwt` token request. */
  readonly assertion?: ClientAssertionRecord;
};

/** A fake authorization server, not yet bound to an origin. */
export interface FakeAuthServer {
  /** The issuer (origin plus issuer path). Known once the origin is set. */
  readonly issuer: string;
  /** Sets the origin it is served from (done by {@link startFakeAuthServer}). */
  setOrigin(origin: string): void;
  /** Answers a request when it is for one of its endpoints; resolves false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Checks one of its access tokens, for an MCP server fixture without a JWKS to read. */
  verifyAccessToken(token: string): Promise<AuthInfo>;
  /** The requests seen. */
  requests(): FakeAuthServerRequest[];
  /** Forgets the recorded requests. */
  clearRequests(): void;
  /** Hashes of every access and refresh token issued. */
  issuedTokens(): ReadonlySet<string>;
}

/** A fake authorization server listening on `http://127.0.0.1:<port>`. */
export interface RunningFakeAuthServer extends FakeAuthServer {
  close(): Promise<void>;
}

interface Code {
  clientId: string;
  redirectUri: string;
  challenge: string;
  scope: string[];
  resource: string[];
}

interface Grant {
  clientId: string;
  scope: string[];
  resource: string[];
}

const METADATA_PATH = /\/\.well-known\/(oauth-authorization-server|openid-configuration)(\/|$)/;

function random(): string {
  return randomBytes(24).toString('base64url');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function parse(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** RFC 8252 §7.3: a loopback IP redirect URI matches whatever its port. */
function loopbackMatch(registered: string, asked: string): boolean {
  if (registered === asked) return true;
  const a = parse(registered);
  const b = parse(asked);
  return (
    a !== undefined &&
    b !== undefined &&
    a.protocol === 'http:' &&
    b.protocol === 'http:' &&
    a.hostname === LOOPBACK_HOST &&
    b.hostname === LOOPBACK_HOST &&
    a.pathname === b.pathname &&
    a.search === b.search
  );
}

/**
 * A small OAuth 2.1 authorization server that speaks the exact wire format (RFC 8414
 * metadata, authorization code with PKCE S256, refresh with rotation, RFC 7591
 * registration, RFC 7009 revocation, client credentials with `client_secret_basic`,
 * `client_secret_post` and `private_key_jwt`), issuing ES256 JWT access tokens whose
 * `aud` is the RFC 8707 `resource`. Each part can be broken on purpose, for tests of
 * clients facing hostile or broken servers. Endpoints: `/authorize`, `/token`,
 * `/register`, `/revoke`, `/jwks` below the issuer path.
 */
export async function createFakeAuthServer(
  options: FakeAuthServerOptions = {},
): Promise<FakeAuthServer> {
  const issuerPath = options.issuerPath ?? '';
  const ttl = options.accessTokenTtl ?? 3600;
  const signing = await generateEs256Key(random());
  const clients = new Map<string, FakeClient & { redirectUris?: string[] }>(
    (options.clients ?? []).map((c) => [c.clientId, c]),
  );
  const codes = new Map<string, Code>();
  const refreshTokens = new Map<string, Grant>();
  const issued = new Set<string>();
  let log: FakeAuthServerRequest[] = [];
  let origin = '';
  const issuer = () => `${origin}${issuerPath}`;
  const endpoint = (name: string) => `${issuer()}/${name}`;

  const standardMetadata = (): Record<string, unknown> => ({
    issuer: issuer(),
    authorization_endpoint: endpoint('authorize'),
    token_endpoint: endpoint('token'),
    registration_endpoint: endpoint('register'),
    revocation_endpoint: endpoint('revoke'),
    jwks_uri: endpoint('jwks'),
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: [
      'none',
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
    ],
    token_endpoint_auth_signing_alg_values_supported: ['ES256'],
    scopes_supported: ['mcp:read', 'mcp:write', 'offline_access'],
    authorization_response_iss_parameter_supported: true,
  });
  const metadataPaths = () =>
    options.metadataPaths?.(issuerPath) ?? [
      `/.well-known/oauth-authorization-server${issuerPath}`,
      `/.well-known/openid-configuration${issuerPath}`,
    ];

  const issueTokens = async (grant: Grant, withRefresh: boolean) => {
    const now = Math.floor(Date.now() / 1000);
    const accessToken = await signEs256Jwt(
      {
        iss: issuer(),
        sub: 'alice',
        client_id: grant.clientId,
        scope: grant.scope.join(' '),
        iat: now,
        exp: now + ttl,
        jti: random(),
        ...(grant.resource.length === 1
          ? { aud: grant.resource[0] }
          : grant.resource.length > 1
            ? { aud: grant.resource }
            : {}),
      },
      signing.privateKey,
      { kid: signing.publicJwk.kid as string, typ: 'at+jwt' },
    );
    issued.add(tokenHash(accessToken));
    const body: Record<string, unknown> = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: ttl,
      scope: grant.scope.join(' '),
    };
    if (withRefresh && options.refreshTokens !== false) {
      const refreshToken = random();
      refreshTokens.set(refreshToken, grant);
      issued.add(tokenHash(refreshToken));
      body.refresh_token = refreshToken;
    }
    return body;
  };

  const token = async (
    req: IncomingMessage,
    res: ServerResponse,
    record: Record<string, unknown>,
  ) => {
    const form = new URLSearchParams(await readBodyText(req));
    const grantType = form.get('grant_type') ?? '';
    record.grantType = grantType;
    record.resource = form.getAll('resource');
    const scope = form.get('scope');
    if (scope !== null) record.scope = scope;
    const refresh = form.get('refresh_token');
    if (refresh) (record.presentedTokens as string[]).push(tokenHash(refresh));
    const auth = await authenticateClient({
      authorization: req.headers.authorization,
      form,
      clients,
      issuer: issuer(),
    });
    record.clientAuth = auth.method;
    record.clientId = auth.claimedId;
    if (auth.assertion) record.assertion = auth.assertion;
    const clientId = auth.clientId;
    if (!clientId) {
      json(res, 401, { error: 'invalid_client' });
      return;
    }
    if (grantType === 'authorization_code') {
      const code = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      record.redirectUri = form.get('redirect_uri') ?? undefined;
      if (
        !code ||
        code.clientId !== clientId ||
        code.redirectUri !== form.get('redirect_uri') ||
        code.challenge !== challenge
      ) {
        json(res, 400, { error: 'invalid_grant' });
        return;
      }
      const resource = form.getAll('resource');
      json(
        res,
        200,
        await issueTokens(
          { clientId, scope: code.scope, resource: resource.length ? resource : code.resource },
          true,
        ),
      );
      return;
    }
    if (grantType === 'refresh_token') {
      const grant = refresh ? refreshTokens.get(refresh) : undefined;
      if (refresh) refreshTokens.delete(refresh);
      if (!grant || grant.clientId !== clientId) {
        json(res, 400, { error: 'invalid_grant' });
        return;
      }
      json(res, 200, await issueTokens(grant, true));
      return;
    }
    if (grantType === 'client_credentials') {
      const requested = scope ? scope.split(' ') : [];
      const granted = options.grantScopes?.(requested) ?? requested;
      json(
        res,
        200,
        await issueTokens({ clientId, scope: granted, resource: form.getAll('resource') }, false),
      );
      return;
    }
    json(res, 400, { error: 'unsupported_grant_type' });
  };

  const authorize = (
    query: URLSearchParams,
    res: ServerResponse,
    record: Record<string, unknown>,
  ) => {
    const clientId = query.get('client_id') ?? '';
    const redirectUri = query.get('redirect_uri') ?? '';
    record.clientId = clientId;
    record.redirectUri = redirectUri;
    record.resource = query.getAll('resource');
    const scope = query.get('scope');
    if (scope !== null) record.scope = scope;
    const client = clients.get(clientId);
    const allowed = client?.redirectUris?.some((r) => loopbackMatch(r, redirectUri)) ?? true;
    if (!client || !allowed) {
      json(res, 400, {
        error: 'invalid_request',
        error_description: 'unknown client or redirect_uri',
      });
      return;
    }
    const response = new URLSearchParams();
    if (query.get('code_challenge_method') !== 'S256' || !query.get('code_challenge')) {
      response.set('error', 'invalid_request');
    } else {
      const code = random();
      const requested = scope ? scope.split(' ') : [];
      codes.set(code, {
        clientId,
        redirectUri,
        challenge: query.get('code_challenge') as string,
        scope: options.grantScopes?.(requested) ?? requested,
        resource: query.getAll('resource'),
      });
      response.set('code', code);
    }
    const state = query.get('state');
    if (state !== null) response.set('state', state);
    response.set('iss', issuer());
    options.authorizationResponse?.(response, query);
    const target = new URL(redirectUri);
    for (const [name, value] of response) target.searchParams.append(name, value);
    res.writeHead(302, { location: target.href });
    res.end();
  };

  const register = async (
    req: IncomingMessage,
    res: ServerResponse,
    record: Record<string, unknown>,
  ) => {
    let metadata: Record<string, unknown>;
    try {
      metadata = JSON.parse(await readBodyText(req)) as Record<string, unknown>;
    } catch {
      json(res, 400, { error: 'invalid_client_metadata' });
      return;
    }
    record.registration = metadata;
    const base: Record<string, unknown> = {
      ...metadata,
      client_id: random(),
      client_id_issued_at: Math.floor(Date.now() / 1000),
    };
    const client = options.registrationResponse?.(base) ?? base;
    const clientId = String(client.client_id);
    record.clientId = clientId;
    clients.set(clientId, {
      clientId,
      ...(typeof client.client_secret === 'string' ? { clientSecret: client.client_secret } : {}),
      redirectUris: Array.isArray(metadata.redirect_uris)
        ? (metadata.redirect_uris as string[])
        : [],
    });
    json(res, 201, client);
  };

  const server: FakeAuthServer = {
    get issuer() {
      return issuer();
    },
    setOrigin(value) {
      origin = value;
    },
    async handle(req, res) {
      const url = new URL(req.url ?? '/', origin || 'http://127.0.0.1');
      const path = url.pathname;
      const record: Record<string, unknown> & { presentedTokens: string[] } = {
        method: req.method ?? 'GET',
        path,
        endpoint: 'other',
        status: 0,
        presentedTokens: [],
        tokenInQuery: url.searchParams.has('access_token') || url.searchParams.has('refresh_token'),
        fromResourceServer: req.headers['user-agent'] === RESOURCE_SERVER_AGENT,
      };
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (bearer) record.presentedTokens.push(tokenHash(bearer));
      const finish = () => {
        record.status = res.statusCode;
        log.push(record as unknown as FakeAuthServerRequest);
      };
      if (req.method === 'GET' && METADATA_PATH.test(path)) {
        // Every metadata lookup is recorded, the ones answered 404 too.
        record.endpoint = 'metadata';
        const served = metadataPaths().includes(path);
        const metadata = !served
          ? undefined
          : options.metadata
            ? options.metadata(standardMetadata())
            : standardMetadata();
        if (metadata) json(res, 200, metadata);
        else json(res, 404, { error: 'not_found' });
        finish();
        return true;
      }
      if (!path.startsWith(`${issuerPath}/`)) return false;
      switch (`${req.method} ${path.slice(issuerPath.length)}`) {
        case 'GET /authorize':
          record.endpoint = 'authorization';
          authorize(url.searchParams, res, record);
          break;
        case 'POST /token':
          record.endpoint = 'token';
          await token(req, res, record);
          break;
        case 'POST /register':
          record.endpoint = 'registration';
          await register(req, res, record);
          break;
        case 'POST /revoke': {
          record.endpoint = 'revocation';
          const form = new URLSearchParams(await readBodyText(req));
          const value = form.get('token');
          if (value) {
            record.presentedTokens.push(tokenHash(value));
            refreshTokens.delete(value);
          }
          record.clientId = form.get('client_id') ?? undefined;
          res.writeHead(200).end();
          break;
        }
        case 'GET /jwks':
          record.endpoint = 'jwks';
          json(res, 200, { keys: [signing.publicJwk] });
          break;
        default:
          return false;
      }
      finish();
      return true;
    },
    async verifyAccessToken(value) {
      const claims = await verifyEs256Jwt(value, [signing.publicJwk]);
      if (claims.iss !== issuer()) throw new Error('token from another issuer');
      const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
      return {
        token: value,
        clientId: String(claims.client_id ?? ''),
        scopes: typeof claims.scope === 'string' && claims.scope ? claims.scope.split(' ') : [],
        expiresAt: Number(claims.exp),
        ...(typeof aud === 'string' ? { resource: new URL(aud) } : {}),
      };
    },
    requests: () => [...log],
    clearRequests: () => {
      log = [];
    },
    issuedTokens: () => issued,
  };
  return server;
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

/** Starts a {@link createFakeAuthServer fake authorization server} on 127.0.0.1 with a random port. */
export async function startFakeAuthServer(
  options: FakeAuthServerOptions = {},
): Promise<RunningFakeAuthServer> {
  const fake = await createFakeAuthServer(options);
  const server = createServer((req, res) => {
    fake
      .handle(req, res)
      .then((handled) => {
        if (!handled) json(res, 404, { error: 'not_found' });
      })
      .catch(() => {
        if (!res.headersSent) json(res, 500, { error: 'server_error' });
        else res.end();
      });
  });
  const port = await listen(server);
  fake.setOrigin(`http://${LOOPBACK_HOST}:${port}`);
  let closing: Promise<void> | undefined;
  return Object.assign(fake, {
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  });
}
