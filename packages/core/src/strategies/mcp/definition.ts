import { LatchkeyError } from '../../errors.js';
import { Secret, secret } from '../../secret.js';
import type { RedirectOptions } from '../common-types.js';
import { checkEndpoint, checkRedirect, fail } from '../definition-checks.js';
import { checkDpopPolicy, type DpopPolicy } from '../oauth/dpop.js';
import { canonicalResource } from './resource.js';
import type {
  ClientCredentials,
  CrossAppAccess,
  JwtBearerGrant,
  McpClientAuthMethod,
  McpStrategy,
  PreRegisteredClient,
} from './types.js';

/** The `mcp` strategy as a provider author writes it; {@link defineProvider} fills in defaults. */
export interface McpStrategyDefinition {
  kind: 'mcp';
  /** The MCP server's URL: https, or http on loopback with `allowHttpLoopback`. */
  serverUrl: string;
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
  /**
   * Use the JWT bearer grant (RFC 7523 §2.1) for workload identity: `assertion` is the
   * workload's signed JWT from its identity provider, or a function returning a fresh one
   * (called for every token request).
   */
  jwtBearer?: {
    assertion: string | Secret | (() => Promise<string | Secret> | string | Secret);
    clientId: string;
    clientSecret?: string | Secret;
    authMethod?: McpClientAuthMethod;
  };
  /**
   * DPoP (RFC 9449) token binding: `auto` (default) when the authorization server
   * advertises it, `require` to refuse servers that do not, `refuse` for bearer tokens only.
   */
  dpop?: DpopPolicy;
}

const AUTH_METHODS: readonly string[] = ['none', 'client_secret_basic', 'client_secret_post'];

function normalizeClient(value: McpStrategyDefinition['client']): PreRegisteredClient | undefined {
  if (value === undefined) return undefined;
  if (typeof value?.clientId !== 'string' || value.clientId === '') {
    fail('strategy.client.clientId', 'is required for a pre-registered client');
  }
  if (value.authMethod !== undefined && !AUTH_METHODS.includes(value.authMethod)) {
    fail(
      'strategy.client.authMethod',
      'must be "none", "client_secret_basic" or "client_secret_post"',
    );
  }
  if (value.authMethod && value.authMethod !== 'none' && value.clientSecret === undefined) {
    fail('strategy.client.clientSecret', `is required with authMethod "${value.authMethod}"`);
  }
  return Object.freeze({
    clientId: value.clientId,
    ...(value.clientSecret !== undefined ? { clientSecret: secret(value.clientSecret) } : {}),
    ...(value.authMethod ? { authMethod: value.authMethod } : {}),
  });
}

function normalizeClientCredentials(
  value: McpStrategyDefinition['clientCredentials'],
): ClientCredentials | undefined {
  if (value === undefined) return undefined;
  if (typeof value?.clientId !== 'string' || value.clientId === '') {
    fail('strategy.clientCredentials.clientId', 'is required');
  }
  if ('privateKey' in value && value.privateKey !== undefined) {
    if (value.authMethod !== undefined && value.authMethod !== 'private_key_jwt') {
      fail('strategy.clientCredentials.authMethod', 'must be "private_key_jwt" with a private key');
    }
    if (typeof value.privateKey !== 'object' || value.privateKey?.type !== 'private') {
      fail('strategy.clientCredentials.privateKey', 'must be a private CryptoKey');
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
    fail('strategy.clientCredentials.clientSecret', 'or privateKey is required');
  }
  const method = withSecret.authMethod ?? 'client_secret_basic';
  if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
    fail(
      'strategy.clientCredentials.authMethod',
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
  value: McpStrategyDefinition['crossAppAccess'],
  allowHttpLoopback: boolean,
): CrossAppAccess | undefined {
  if (value === undefined) return undefined;
  checkEndpoint(
    'strategy.crossAppAccess.idpTokenEndpoint',
    value?.idpTokenEndpoint,
    allowHttpLoopback,
  );
  if (value.idpIssuer !== undefined)
    checkEndpoint('strategy.crossAppAccess.idpIssuer', value.idpIssuer, allowHttpLoopback);
  for (const field of ['idpClientId', 'clientId'] as const) {
    if (typeof value[field] !== 'string' || value[field] === '')
      fail(`strategy.crossAppAccess.${field}`, 'is required');
  }
  if (value.clientSecret === undefined || value.clientSecret === '')
    fail('strategy.crossAppAccess.clientSecret', 'is required');
  const method = value.authMethod ?? 'client_secret_basic';
  if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
    fail(
      'strategy.crossAppAccess.authMethod',
      'must be "client_secret_basic" or "client_secret_post"',
    );
  }
  const source = value.idToken;
  if (source === undefined || source === '') fail('strategy.crossAppAccess.idToken', 'is required');
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

function normalizeJwtBearer(value: McpStrategyDefinition['jwtBearer']): JwtBearerGrant | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) fail('strategy.jwtBearer', 'must be an object');
  if (typeof value.clientId !== 'string' || value.clientId === '')
    fail('strategy.jwtBearer.clientId', 'is required');
  const source = value.assertion;
  if (source === undefined || source === '') fail('strategy.jwtBearer.assertion', 'is required');
  if (typeof source !== 'function' && typeof source !== 'string' && !(source instanceof Secret))
    fail('strategy.jwtBearer.assertion', 'must be a string, a Secret or a function');
  const method =
    value.authMethod ?? (value.clientSecret === undefined ? 'none' : 'client_secret_basic');
  if (!AUTH_METHODS.includes(method)) {
    fail(
      'strategy.jwtBearer.authMethod',
      'must be "none", "client_secret_basic" or "client_secret_post"',
    );
  }
  if (method !== 'none' && (value.clientSecret === undefined || value.clientSecret === ''))
    fail('strategy.jwtBearer.clientSecret', `is required with authMethod "${method}"`);
  const assertion = async (): Promise<Secret> => {
    let current: unknown;
    try {
      current = typeof source === 'function' ? await source() : source;
    } catch (error) {
      // The host's own error stays the cause; its message is not repeated, in case it quotes a secret.
      throw new LatchkeyError(
        'PROVIDER_CONFIG',
        'strategy.jwtBearer.assertion failed to return an assertion (see the cause). Check the function that fetches the workload assertion.',
        { cause: error },
      );
    }
    // Trimmed: a token read from a file usually ends with a newline.
    const value = (
      current instanceof Secret ? current.reveal() : typeof current === 'string' ? current : ''
    ).trim();
    if (value.split('.').length !== 3) {
      throw new LatchkeyError(
        'PROVIDER_CONFIG',
        'strategy.jwtBearer.assertion gave no signed JWT (a string of three dot-separated parts). Check the function that fetches the workload assertion.',
      );
    }
    return secret(value);
  };
  return Object.freeze({
    assertion,
    clientId: value.clientId,
    ...(value.clientSecret !== undefined && method !== 'none'
      ? { clientSecret: secret(value.clientSecret) }
      : {}),
    authMethod: method,
  });
}

/** Checks `mcp` strategy options and returns the strategy. */
export function normalizeMcp(options: McpStrategyDefinition): McpStrategy {
  const { serverUrl } = options;
  const allowHttpLoopback = options.allowHttpLoopback ?? false;
  if (typeof allowHttpLoopback !== 'boolean')
    fail('strategy.allowHttpLoopback', 'must be a boolean');
  checkEndpoint('strategy.serverUrl', serverUrl, allowHttpLoopback);
  if (options.clientMetadataUrl !== undefined) {
    checkEndpoint('strategy.clientMetadataUrl', options.clientMetadataUrl, false);
    if (new URL(options.clientMetadataUrl).pathname === '/') {
      fail(
        'strategy.clientMetadataUrl',
        'must be an https URL with a path (the document names it as its client_id)',
      );
    }
  }
  if (options.clientUri !== undefined)
    checkEndpoint('strategy.clientUri', options.clientUri, false);
  const clientName = options.clientName ?? 'Latchkey';
  if (typeof clientName !== 'string' || clientName.trim() === '')
    fail('strategy.clientName', 'must be a non-empty string');
  const scopes = options.scopes ?? [];
  if (!Array.isArray(scopes)) fail('strategy.scopes', 'must be an array of strings');
  scopes.forEach((scope, i) => {
    if (typeof scope !== 'string' || scope === '' || /\s/.test(scope)) {
      fail(`strategy.scopes[${i}]`, 'must be a non-empty scope name without spaces');
    }
  });
  const redirect = checkRedirect('strategy.redirect', options.redirect);
  const client = normalizeClient(options.client);
  const clientCredentials = normalizeClientCredentials(options.clientCredentials);
  const crossAppAccess = normalizeCrossAppAccess(options.crossAppAccess, allowHttpLoopback);
  const jwtBearer = normalizeJwtBearer(options.jwtBearer);
  if (clientCredentials && crossAppAccess) {
    fail('strategy.crossAppAccess', 'cannot be combined with clientCredentials: choose one grant');
  }
  if (jwtBearer && (clientCredentials || crossAppAccess)) {
    fail(
      'strategy.jwtBearer',
      `cannot be combined with ${clientCredentials ? 'clientCredentials' : 'crossAppAccess'}: choose one grant`,
    );
  }
  const dpop = checkDpopPolicy('strategy.dpop', options.dpop, 'auto');
  return {
    kind: 'mcp',
    serverUrl: canonicalResource(serverUrl),
    ...(client ? { client } : {}),
    ...(options.clientMetadataUrl ? { clientMetadataUrl: options.clientMetadataUrl } : {}),
    clientName,
    ...(options.clientUri ? { clientUri: options.clientUri } : {}),
    scopes: Object.freeze([...scopes]),
    allowHttpLoopback,
    redirect,
    ...(clientCredentials ? { clientCredentials } : {}),
    ...(crossAppAccess ? { crossAppAccess } : {}),
    ...(jwtBearer ? { jwtBearer } : {}),
    dpop,
  } satisfies McpStrategy;
}
