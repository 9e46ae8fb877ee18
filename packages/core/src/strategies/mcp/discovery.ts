import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';
import { endpointProblem, isInsecureLoopback, parseUrl } from '../../util/url.js';
import { isIssuerMismatch, toLatchkeyError } from '../oauth/errors.js';
import { canonicalResource, resourceCovers } from './resource.js';

/** Protected resource metadata (RFC 9728 §2), the fields MCP authorization uses. */
export interface ProtectedResourceMetadata {
  /** The protected resource's identifier. */
  readonly resource: string;
  /** Issuers of the authorization servers that protect it. */
  readonly authorization_servers?: readonly string[];
  /** Scopes the resource understands. */
  readonly scopes_supported?: readonly string[];
  /** Where the metadata was read from. */
  readonly url: string;
}

/** How discovery requests are sent. */
export interface DiscoveryHttp {
  readonly fetch: typeof fetch;
  /** Whether plain http is allowed on loopback hosts (the development switch). */
  readonly allowHttpLoopback: boolean;
  readonly signal?: AbortSignal;
}

function checkUrl(url: string, what: string, http: DiscoveryHttp): void {
  const problem = endpointProblem(url, http.allowHttpLoopback);
  if (problem) {
    throw new LatchkeyError('INSECURE_ENDPOINT', `The ${what} ${url} ${problem}.`);
  }
}

async function getJson(url: string, http: DiscoveryHttp): Promise<Response> {
  try {
    return await http.fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      ...(http.signal ? { signal: http.signal } : {}),
    });
  } catch (error) {
    throw toLatchkeyError(error, 'discovery');
  }
}

/**
 * The URLs where protected resource metadata may be, in the order the MCP
 * specification gives: the `resource_metadata` of the challenge when there is one;
 * else the well-known URL with the MCP endpoint's path, then the one at the root.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-3.1 Protected Resource Metadata Request
 */
export function protectedResourceMetadataUrls(serverUrl: string, fromChallenge?: string): string[] {
  const url = new URL(serverUrl);
  const path = url.pathname.replace(/\/$/, '');
  if (fromChallenge) return [fromChallenge];
  return [
    ...(path ? [`${url.origin}/.well-known/oauth-protected-resource${path}`] : []),
    `${url.origin}/.well-known/oauth-protected-resource`,
  ];
}

/**
 * Finds the protected resource metadata of an MCP server, or `undefined` when the
 * server publishes none (a server written for the 2025-03-26 revision). Metadata that
 * names another resource is refused with `RESOURCE_MISMATCH`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9728 OAuth 2.0 Protected Resource Metadata
 */
export async function discoverProtectedResource(
  serverUrl: string,
  fromChallenge: string | undefined,
  http: DiscoveryHttp,
): Promise<ProtectedResourceMetadata | undefined> {
  const canonical = canonicalResource(serverUrl);
  for (const url of protectedResourceMetadataUrls(serverUrl, fromChallenge)) {
    checkUrl(url, 'protected resource metadata URL', http);
    const response = await getJson(url, http);
    if (response.status !== 200) {
      await response.body?.cancel();
      continue;
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      continue;
    }
    if (
      typeof body !== 'object' ||
      body === null ||
      typeof (body as { resource?: unknown }).resource !== 'string'
    ) {
      continue;
    }
    const metadata = body as Omit<ProtectedResourceMetadata, 'url'>;
    if (!resourceCovers(metadata.resource, canonical)) {
      throw new LatchkeyError(
        'RESOURCE_MISMATCH',
        `The protected resource metadata at ${url} describes ${metadata.resource}, not the MCP server ${canonical}, so it was not used. Check the server URL.`,
      );
    }
    const servers = metadata.authorization_servers;
    if (
      servers !== undefined &&
      (!Array.isArray(servers) || !servers.every((s) => typeof s === 'string'))
    ) {
      throw new LatchkeyError(
        'INVALID_RESPONSE',
        `The protected resource metadata at ${url} has a malformed authorization_servers list.`,
      );
    }
    return { ...metadata, url };
  }
  return undefined;
}

/**
 * The URLs where an issuer's metadata may be, in the MCP specification's order: for an
 * issuer with a path, RFC 8414 with the path appended, OpenID Connect with the path
 * appended, then OpenID Connect with the path prepended; for one without, RFC 8414
 * then OpenID Connect.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3.1 Authorization Server Metadata Request
 */
export function authorizationServerMetadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, '');
  if (!path) {
    return [
      `${url.origin}/.well-known/oauth-authorization-server`,
      `${url.origin}/.well-known/openid-configuration`,
    ];
  }
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

/**
 * Reads an authorization server's metadata, or `undefined` when none is published.
 * Metadata whose `issuer` is not the one it was fetched for is refused with
 * `ISSUER_MISMATCH` and never used.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3.3 Metadata Validation
 */
export async function discoverAuthorizationServer(
  issuer: string,
  http: DiscoveryHttp,
): Promise<oauth.AuthorizationServer | undefined> {
  checkUrl(issuer, 'authorization server', http);
  for (const url of authorizationServerMetadataUrls(issuer)) {
    const response = await getJson(url, http);
    if (response.status !== 200) {
      await response.body?.cancel();
      continue;
    }
    try {
      return await oauth.processDiscoveryResponse(new URL(issuer), response);
    } catch (error) {
      if (isIssuerMismatch(error)) {
        throw new LatchkeyError(
          'ISSUER_MISMATCH',
          `The metadata at ${url} names another issuer than ${issuer}, so it was not used.`,
        );
      }
    }
  }
  return undefined;
}

/**
 * Reads the metadata of a 2025-03-26 server, which publishes no protected resource
 * metadata and acts as its own authorization server, or `undefined` when it has none.
 * Such servers often name an issuer with a path below their origin
 * (`https://host/oauth`) while serving the metadata at the origin; Latchkey accepts an
 * issuer on the same origin here, and only here. An issuer on another origin is
 * refused with `ISSUER_MISMATCH`.
 *
 * @see https://modelcontextprotocol.io/specification/2025-03-26/basic/authorization#2-3-server-metadata-discovery
 */
export async function discoverLegacyAuthorizationServer(
  origin: string,
  http: DiscoveryHttp,
): Promise<oauth.AuthorizationServer | undefined> {
  checkUrl(origin, 'MCP server', http);
  for (const url of authorizationServerMetadataUrls(origin)) {
    const response = await getJson(url, http);
    if (response.status !== 200) {
      await response.body?.cancel();
      continue;
    }
    let issuer: unknown;
    try {
      issuer = ((await response.clone().json()) as { issuer?: unknown }).issuer;
    } catch {
      continue;
    }
    if (typeof issuer !== 'string' || parseUrl(issuer)?.origin !== origin) {
      throw new LatchkeyError(
        'ISSUER_MISMATCH',
        `The metadata at ${url} names an issuer on another origin, so it was not used.`,
      );
    }
    try {
      return await oauth.processDiscoveryResponse(new URL(issuer), response);
    } catch (error) {
      throw toLatchkeyError(error, 'discovery');
    }
  }
  return undefined;
}

/**
 * Default endpoints of a 2025-03-26 server that publishes no metadata: `/authorize`,
 * `/token` and `/register` at the origin.
 */
export function fallbackAuthorizationServer(origin: string): oauth.AuthorizationServer {
  return {
    issuer: origin,
    authorization_endpoint: `${origin}/authorize`,
    token_endpoint: `${origin}/token`,
    registration_endpoint: `${origin}/register`,
  };
}

/** Whether requests to `url` may use plain http (loopback, with the development switch). */
export function allowInsecure(url: string, http: DiscoveryHttp): boolean {
  return http.allowHttpLoopback && isInsecureLoopback(url);
}
