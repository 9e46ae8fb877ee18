import { createHash } from 'node:crypto';
import { checkEndpoint, fail } from '../provider/definition-checks.js';
import type { AuthProvider, RedirectOptions } from '../provider/types.js';
import { type Secret, secret } from '../secret.js';
import { canonicalResource } from './resource.js';
import type {
  ClientCredentials,
  CrossAppAccess,
  McpClientAuthMethod,
  McpStrategy,
  PreRegisteredClient,
} from './types.js';

/** Options of {@link mcpAuthProvider}. */
export interface McpAuthProviderOptions {
  /** Provider id; default: derived from the server URL, stable across runs. */
  id?: string;
  /** Display name; default: the server's host. */
  name?: string;
  /** A client registered with the authorization server beforehand. */
  client?: { clientId: string; clientSecret?: string | Secret; authMethod?: McpClientAuthMethod };
  /** A client ID metadata document URL (https with a path), used when the server supports it. */
  clientMetadataUrl?: string;
  /** Client name sent with dynamic registration; default `"Latchkey"`. */
  clientName?: string;
  /** Client home page sent with dynamic registration. */
  clientUri?: string;
  /** Scopes to request on top of the ones the server asks for. */
  scopes?: readonly string[];
  /** Allow plain http on loopback hosts. For development and tests only. */
  allowHttpLoopback?: boolean;
  /** A fixed redirect port and path. */
  redirect?: Partial<RedirectOptions>;
  /** Use the client credentials grant (machine to machine) with these credentials. */
  clientCredentials?:
    | {
        clientId: string;
        clientSecret: string | Secret;
        authMethod?: 'client_secret_basic' | 'client_secret_post';
      }
    | { clientId: string; privateKey: CryptoKey; keyId?: string; authMethod?: 'private_key_jwt' };
  /** Use cross-app access (enterprise single sign-on) instead of a user sign-in. */
  crossAppAccess?: {
    idpTokenEndpoint: string;
    idpIssuer?: string;
    idpClientId: string;
    /** The user's ID Token, or a function returning the current one. */
    idToken: string | Secret | (() => Promise<string | Secret>);
    clientId: string;
    clientSecret: string | Secret;
    authMethod?: 'client_secret_basic' | 'client_secret_post';
  };
}

const AUTH_METHODS: readonly string[] = ['none', 'client_secret_basic', 'client_secret_post'];

function defaultId(canonical: string): string {
  const host = new URL(canonical).host.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 40);
  const hash = createHash('sha256').update(canonical).digest('hex').slice(0, 10);
  return `mcp-${host}-${hash}`;
}

function normalizeClient(value: McpAuthProviderOptions['client']): PreRegisteredClient | undefined {
  if (value === undefined) return undefined;
  if (typeof value?.clientId !== 'string' || value.clientId === '') {
    fail('client.clientId', 'is required for a pre-registered client');
  }
  if (value.authMethod !== undefined && !AUTH_METHODS.includes(value.authMethod)) {
    fail('client.authMethod', 'must be "none", "client_secret_basic" or "client_secret_post"');
  }
  if (value.authMethod && value.authMethod !== 'none' && value.clientSecret === undefined) {
    fail('client.clientSecret', `is required with authMethod "${value.authMethod}"`);
  }
  return Object.freeze({
    clientId: value.clientId,
    ...(value.clientSecret !== undefined ? { clientSecret: secret(value.clientSecret) } : {}),
    ...(value.authMethod ? { authMethod: value.authMethod } : {}),
  });
}

function normalizeClientCredentials(
  value: McpAuthProviderOptions['clientCredentials'],
): ClientCredentials | undefined {
  if (value === undefined) return undefined;
  if (typeof value?.clientId !== 'string' || value.clientId === '') {
    fail('clientCredentials.clientId', 'is required');
  }
  if ('privateKey' in value && value.privateKey !== undefined) {
    if (value.authMethod !== undefined && value.authMethod !== 'private_key_jwt') {
      fail('clientCredentials.authMethod', 'must be "private_key_jwt" with a private key');
    }
    if (typeof value.privateKey !== 'object' || value.privateKey?.type !== 'private') {
      fail('clientCredentials.privateKey', 'must be a private CryptoKey');
    }
    return Object.freeze({
      clientId: value.clientId,
      authMethod: 'private_key_jwt',
      privateKey: value.privateKey,
      ...(value.keyId ? { keyId: value.keyId } : {}),
    });
  }
  const withSecret = value as { clientSecret?: string | Secret; authMethod?: string };
  if (withSecret.clientSecret === undefined || withSecret.clientSecret === '') {
    fail('clientCredentials.clientSecret', 'or privateKey is required');
  }
  const method = withSecret.authMethod ?? 'client_secret_basic';
  if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
    fail(
      'clientCredentials.authMethod',
      'must be "client_secret_basic" or "client_secret_post" with a secret',
    );
  }
  return Object.freeze({
    clientId: value.clientId,
    authMethod: method,
    clientSecret: secret(withSecret.clientSecret),
  });
}

function normalizeCrossAppAccess(
  value: McpAuthProviderOptions['crossAppAccess'],
  allowHttpLoopback: boolean,
): CrossAppAccess | undefined {
  if (value === undefined) return undefined;
  checkEndpoint('crossAppAccess.idpTokenEndpoint', value?.idpTokenEndpoint, allowHttpLoopback);
  if (value.idpIssuer !== undefined)
    checkEndpoint('crossAppAccess.idpIssuer', value.idpIssuer, allowHttpLoopback);
  for (const field of ['idpClientId', 'clientId'] as const) {
    if (typeof value[field] !== 'string' || value[field] === '')
      fail(`crossAppAccess.${field}`, 'is required');
  }
  if (value.clientSecret === undefined || value.clientSecret === '')
    fail('crossAppAccess.clientSecret', 'is required');
  const method = value.authMethod ?? 'client_secret_basic';
  if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
    fail('crossAppAccess.authMethod', 'must be "client_secret_basic" or "client_secret_post"');
  }
  const source = value.idToken;
  if (source === undefined || source === '') fail('crossAppAccess.idToken', 'is required');
  const idToken =
    typeof source === 'function' ? async () => secret(await source()) : async () => secret(source);
  return Object.freeze({
    idpTokenEndpoint: value.idpTokenEndpoint,
    ...(value.idpIssuer ? { idpIssuer: value.idpIssuer } : {}),
    idpClientId: value.idpClientId,
    idToken,
    clientId: value.clientId,
    clientSecret: secret(value.clientSecret),
    authMethod: method,
  });
}

/** Checks `mcp` strategy options and returns the strategy. */
export function normalizeMcp(serverUrl: string, options: McpAuthProviderOptions): McpStrategy {
  const allowHttpLoopback = options.allowHttpLoopback ?? false;
  if (typeof allowHttpLoopback !== 'boolean') fail('allowHttpLoopback', 'must be a boolean');
  checkEndpoint('serverUrl', serverUrl, allowHttpLoopback);
  if (options.clientMetadataUrl !== undefined) {
    checkEndpoint('clientMetadataUrl', options.clientMetadataUrl, false);
    if (new URL(options.clientMetadataUrl).pathname === '/') {
      fail(
        'clientMetadataUrl',
        'must be an https URL with a path (the document names it as its client_id)',
      );
    }
  }
  if (options.clientUri !== undefined) checkEndpoint('clientUri', options.clientUri, false);
  const clientName = options.clientName ?? 'Latchkey';
  if (typeof clientName !== 'string' || clientName.trim() === '')
    fail('clientName', 'must be a non-empty string');
  const scopes = options.scopes ?? [];
  if (!Array.isArray(scopes)) fail('scopes', 'must be an array of strings');
  scopes.forEach((scope, i) => {
    if (typeof scope !== 'string' || scope === '' || /\s/.test(scope)) {
      fail(`scopes[${i}]`, 'must be a non-empty scope name without spaces');
    }
  });
  const port = options.redirect?.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail('redirect.port', 'must be an integer from 0 to 65535');
  const path = options.redirect?.path ?? '/callback';
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/.test(path)) {
    fail('redirect.path', 'must start with "/" and contain no query or fragment');
  }
  const client = normalizeClient(options.client);
  const clientCredentials = normalizeClientCredentials(options.clientCredentials);
  const crossAppAccess = normalizeCrossAppAccess(options.crossAppAccess, allowHttpLoopback);
  if (clientCredentials && crossAppAccess) {
    fail('crossAppAccess', 'cannot be combined with clientCredentials: choose one grant');
  }
  return {
    kind: 'mcp',
    serverUrl: canonicalResource(serverUrl),
    ...(client ? { client } : {}),
    ...(options.clientMetadataUrl ? { clientMetadataUrl: options.clientMetadataUrl } : {}),
    clientName,
    ...(options.clientUri ? { clientUri: options.clientUri } : {}),
    scopes: Object.freeze([...scopes]),
    allowHttpLoopback,
    redirect: Object.freeze({ port, path }),
    ...(clientCredentials ? { clientCredentials } : {}),
    ...(crossAppAccess ? { crossAppAccess } : {}),
  } satisfies McpStrategy;
}

/**
 * A provider for a remote MCP server, authorized the way the MCP specification
 * describes: on the first `401` Latchkey discovers the protected resource metadata and
 * the authorization server, identifies the client (pre-registered, client ID metadata
 * document, or dynamic registration), and signs the user in with PKCE and the server
 * as the RFC 8707 `resource`. Tokens are kept per authorization server.
 *
 * @see https://modelcontextprotocol.io/specification/draft/basic/authorization
 * @see https://www.rfc-editor.org/rfc/rfc9728 OAuth 2.0 Protected Resource Metadata
 */
export function mcpAuthProvider(
  serverUrl: string,
  options: McpAuthProviderOptions = {},
): AuthProvider {
  if (typeof serverUrl !== 'string')
    throw new TypeError('mcpAuthProvider() takes the MCP server URL');
  if (typeof options !== 'object' || options === null)
    throw new TypeError('options must be an object');
  const strategy = normalizeMcp(serverUrl, options);
  const id = options.id ?? defaultId(strategy.serverUrl);
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) {
    fail('id', 'must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  return Object.freeze({
    id,
    name: options.name ?? new URL(strategy.serverUrl).host,
    strategy: Object.freeze(strategy),
  }) satisfies AuthProvider;
}
