import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import type { TestAuthServer } from '../src/index.js';

/** Request options oauth4webapi needs for http:// URLs. */
export const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** Which pre-registered client to act as. */
export type ClientKind = 'public' | 'basic' | 'post';

/** A hand-written OAuth client for one test auth server and one of its clients. */
export interface TestClient {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  auth: oauth.ClientAuth;
}

/** Discovers the server's metadata and picks the client and its authentication method. */
export async function clientFor(server: TestAuthServer, kind: ClientKind): Promise<TestClient> {
  const issuer = new URL(server.issuer);
  const response = await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' });
  const as = await oauth.processDiscoveryResponse(issuer, response);
  switch (kind) {
    case 'public':
      return { as, client: { client_id: server.clients.public.clientId }, auth: oauth.None() };
    case 'basic':
      return {
        as,
        client: { client_id: server.clients.basic.clientId },
        auth: oauth.ClientSecretBasic(server.clients.basic.clientSecret),
      };
    case 'post':
      return {
        as,
        client: { client_id: server.clients.post.clientId },
        auth: oauth.ClientSecretPost(server.clients.post.clientSecret),
      };
  }
}

/** An authorization request ready to be opened, with what is needed to finish it. */
export interface PreparedAuthorization {
  url: string;
  state: string;
  verifier: string;
  redirectUri: string;
}

/** Builds an authorization code + PKCE (S256) request URL. */
export async function prepareAuthorization(
  { as, client }: TestClient,
  redirectUri: string,
  extra: Record<string, string> = {},
): Promise<PreparedAuthorization> {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint ?? '');
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', 'openid email read');
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  for (const [key, value] of Object.entries(extra)) {
    url.searchParams.set(key, value);
  }
  return { url: url.href, state, verifier, redirectUri };
}

/** Validates the callback URL and redeems its code. */
export async function redeem(
  testClient: TestClient,
  prepared: PreparedAuthorization,
  callbackUrl: string,
): Promise<oauth.TokenEndpointResponse> {
  const { as, client, auth } = testClient;
  const params = oauth.validateAuthResponse(as, client, new URL(callbackUrl), prepared.state);
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    auth,
    params,
    prepared.redirectUri,
    prepared.verifier,
    insecure,
  );
  return oauth.processAuthorizationCodeResponse(as, client, response);
}

/** Runs a refresh token grant. */
export async function refresh(
  { as, client, auth }: TestClient,
  refreshToken: string,
): Promise<oauth.TokenEndpointResponse> {
  const response = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, insecure);
  return oauth.processRefreshTokenResponse(as, client, response);
}

/** Resolves the error code of a rejected OAuth call (`error` of a ResponseBodyError). */
export async function oauthError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) {
      return error.error;
    }
    throw error;
  }
  throw new Error('expected the call to fail');
}

/** A loopback listener standing in for a client's redirect URI. */
export interface CallbackServer {
  port: number;
  requests: URL[];
  url(path: string): string;
  close(): Promise<void>;
}

/** Starts a callback listener on 127.0.0.1:0 answering 200 (`/bounce?to=` redirects, `/loop` loops). */
export async function startCallbackServer(): Promise<CallbackServer> {
  const requests: URL[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(url);
    if (url.pathname === '/loop') {
      res.writeHead(302, { location: '/loop' }).end();
      return;
    }
    if (url.pathname === '/bounce') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>You can close this window.</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    requests,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
