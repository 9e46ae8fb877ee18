import * as oauth from 'oauth4webapi';
import { LatchkeyError } from '../../errors.js';
import { Secret } from '../../secret.js';
import type { CredentialStore, JsonObject } from '../../store/types.js';
import { endpointProblem, isLoopbackRedirect } from '../../util/url.js';
import { toLatchkeyError } from '../oauth/errors.js';
import type { ClientAuthentication } from '../oauth/types.js';
import { allowInsecure, type DiscoveryHttp } from './discovery.js';
import type { McpClientAuthMethod, McpStrategy } from './types.js';

/** How the client was identified to the authorization server. */
export type ClientIdentification = 'pre-registered' | 'metadata-document' | 'dynamic';

/** The client Latchkey presents to one authorization server. */
export interface ResolvedClient {
  readonly clientId: string;
  readonly clientAuthentication: ClientAuthentication;
  readonly method: ClientIdentification;
}

/** Where a dynamic registration is kept: per authorization server, keyed by its issuer. */
export function registrationKey(providerId: string, issuer: string): string {
  return `mcp-clients/${providerId}/${encodeURIComponent(issuer)}`;
}

/**
 * Picks the token endpoint authentication method: the one asked for, else the first of
 * `client_secret_basic`, `client_secret_post` the server supports when there is a
 * secret (RFC 8414 says `client_secret_basic` is the default when it lists none), else
 * `none`.
 */
export function chooseAuthMethod(
  as: oauth.AuthorizationServer,
  hasSecret: boolean,
  wanted?: McpClientAuthMethod,
): McpClientAuthMethod {
  if (wanted) return wanted;
  if (!hasSecret) return 'none';
  const supported = as.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
  if (supported.includes('client_secret_basic')) return 'client_secret_basic';
  if (supported.includes('client_secret_post')) return 'client_secret_post';
  return 'none';
}

/**
 * Whether a registered redirect URI covers `wanted`: the same URI, or for a loopback IP
 * literal the same host and path on any port, which RFC 8252 §7.3 requires servers to
 * accept (the listener takes a free port for each sign-in).
 */
export function redirectCovered(registered: readonly unknown[], wanted: string): boolean {
  const target = new URL(wanted);
  return registered.some((value) => {
    if (typeof value !== 'string') return false;
    if (value === wanted) return true;
    let uri: URL;
    try {
      uri = new URL(value);
    } catch {
      return false;
    }
    const loopback = uri.hostname === '127.0.0.1' || uri.hostname === '[::1]';
    return (
      loopback &&
      uri.protocol === target.protocol &&
      uri.hostname === target.hostname &&
      uri.pathname === target.pathname &&
      uri.search === target.search
    );
  });
}

/** Client authentication for a method and optional secret. */
export function clientAuthentication(
  method: McpClientAuthMethod,
  clientSecret?: Secret,
): ClientAuthentication {
  if (method === 'none' || !clientSecret) return { method: 'none' };
  return { method, clientSecret };
}

async function register(
  as: oauth.AuthorizationServer,
  strategy: McpStrategy,
  redirectUri: string,
  http: DiscoveryHttp,
): Promise<JsonObject> {
  const endpoint = as.registration_endpoint as string;
  const problem = endpointProblem(endpoint, http.allowHttpLoopback);
  if (problem) {
    throw new LatchkeyError(
      'INSECURE_ENDPOINT',
      `The authorization server's registration_endpoint ${problem}; Latchkey will not register there.`,
    );
  }
  try {
    const response = await oauth.dynamicClientRegistrationRequest(
      as,
      {
        client_name: strategy.clientName,
        ...(strategy.clientUri ? { client_uri: strategy.clientUri } : {}),
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        // A loopback redirect is a native app's (RFC 8252); any other is a web app's.
        application_type: isLoopbackRedirect(new URL(redirectUri)) ? 'native' : 'web',
      },
      {
        [oauth.customFetch]: http.fetch,
        [oauth.allowInsecureRequests]: allowInsecure(endpoint, http),
        ...(http.signal ? { signal: http.signal } : {}),
      },
    );
    return await readRegistration(response);
  } catch (error) {
    const cause = toLatchkeyError(error, 'client registration');
    throw new LatchkeyError(
      'REGISTRATION_FAILED',
      `Dynamic client registration at ${endpoint} failed (${cause.message}) Pass a pre-registered client instead.`,
      { cause },
    );
  }
}

/**
 * Reads a registration response (RFC 7591 §3.2). Like oauth4webapi's own check, it
 * needs a 201 with a JSON object carrying `client_id`; unlike it, it accepts a
 * `client_secret` without `client_secret_expires_at` (many servers leave it out) and
 * treats that secret as never expiring.
 */
async function readRegistration(response: Response): Promise<JsonObject> {
  if (response.status !== 201 && response.status !== 200) {
    // Lets oauth4webapi turn an RFC 7591 error body into a ResponseBodyError.
    await oauth.processDynamicClientRegistrationResponse(response);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new LatchkeyError('INVALID_RESPONSE', 'The registration response is not JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new LatchkeyError('INVALID_RESPONSE', 'The registration response is not a JSON object.');
  }
  const client = body as JsonObject;
  if (typeof client.client_id !== 'string' || client.client_id === '') {
    throw new LatchkeyError('INVALID_RESPONSE', 'The registration response has no client_id.');
  }
  if (client.client_secret !== undefined && typeof client.client_secret !== 'string') {
    throw new LatchkeyError(
      'INVALID_RESPONSE',
      'The registration response has a malformed client_secret.',
    );
  }
  return client;
}

/**
 * Identifies the client to an authorization server, in the MCP specification's order:
 * a pre-registered client; else a client ID metadata document, when the server says
 * it supports them; else dynamic client registration (RFC 7591), kept per issuer and
 * reused while it covers the redirect URI; else `REGISTRATION_FAILED`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7591 OAuth 2.0 Dynamic Client Registration
 */
export async function resolveClient(input: {
  providerId: string;
  strategy: McpStrategy;
  as: oauth.AuthorizationServer;
  redirectUri: string;
  store: CredentialStore;
  http: DiscoveryHttp;
  emit: (method: ClientIdentification) => void;
}): Promise<ResolvedClient> {
  const { strategy, as } = input;
  if (strategy.client) {
    const method = chooseAuthMethod(
      as,
      strategy.client.clientSecret !== undefined,
      strategy.client.authMethod,
    );
    input.emit('pre-registered');
    return {
      clientId: strategy.client.clientId,
      clientAuthentication: clientAuthentication(method, strategy.client.clientSecret),
      method: 'pre-registered',
    };
  }
  if (strategy.clientMetadataUrl && as.client_id_metadata_document_supported === true) {
    input.emit('metadata-document');
    return {
      clientId: strategy.clientMetadataUrl,
      clientAuthentication: { method: 'none' },
      method: 'metadata-document',
    };
  }
  if (typeof as.registration_endpoint === 'string') {
    const key = registrationKey(input.providerId, as.issuer);
    let registration = await input.store.get(key);
    const uris = registration?.redirect_uris;
    const expires = registration?.client_secret_expires_at;
    const reusable =
      Array.isArray(uris) &&
      redirectCovered(uris, input.redirectUri) &&
      !(typeof expires === 'number' && expires !== 0 && expires * 1000 < Date.now() + 60_000);
    if (!registration || !reusable) {
      registration = await register(as, strategy, input.redirectUri, input.http);
      await input.store.set(key, registration);
    }
    input.emit('dynamic');
    const secretValue =
      typeof registration.client_secret === 'string'
        ? new Secret(registration.client_secret)
        : undefined;
    const registered = registration.token_endpoint_auth_method;
    const method = chooseAuthMethod(
      as,
      secretValue !== undefined,
      registered === 'client_secret_basic' ||
        registered === 'client_secret_post' ||
        registered === 'none'
        ? registered
        : undefined,
    );
    return {
      clientId: String(registration.client_id),
      clientAuthentication: clientAuthentication(method, secretValue),
      method: 'dynamic',
    };
  }
  throw new LatchkeyError(
    'REGISTRATION_FAILED',
    `The authorization server ${as.issuer} offers no way for Latchkey to register (no client ID metadata document support, no registration endpoint). Register a client with it and pass it as the client option.`,
  );
}
