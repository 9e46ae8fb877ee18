import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Adapter, ClientInstance, KoaContext } from 'oidc-provider';
import { type AuthServerDpopOptions, dpopFeature, dpopRequiredMetadata } from './dpop-provider.js';
import { JWT_BEARER_GRANT } from './jwt-bearer.js';
import { providerPages } from './provider-pages.js';

/** Grant type URN of the OAuth 2.0 device authorization grant (RFC 8628). */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Redirect URI registered for every client; any port and path on 127.0.0.1 is accepted too. */
export const REGISTERED_REDIRECT_URI = 'http://127.0.0.1/callback';

/** Scopes that exist as resource server scopes when a `resource` parameter is used. */
export const API_SCOPES = ['read', 'write'];

/** Fully resolved settings that shape the provider configuration. */
export interface ProviderSettings {
  accessTokenTtl: number;
  refreshTokenTtl: number;
  rotateRefreshTokens: boolean;
  introspection: boolean;
  extraScopes: string[];
  clients: {
    public: { clientId: string };
    basic: { clientId: string; clientSecret: string };
    post: { clientId: string; clientSecret: string };
    /** A public client allowed only the JWT bearer grant, when that grant is on. */
    workload?: { clientId: string };
  };
  adapter: (model: string) => Adapter;
  /** Open dynamic client registration (RFC 7591) at `/reg`. Default false. */
  dynamicRegistration?: boolean;
  /** Format of access tokens issued for a `resource`. Default 'opaque'. */
  accessTokenFormat?: 'opaque' | 'jwt';
  /** Whether `offline_access` is a known scope (listed in `scopes_supported`). Default true. */
  offlineAccessScope?: boolean;
  /** DPoP (RFC 9449); undefined turns it off. */
  dpop?: AuthServerDpopOptions;
  /** Pushed authorization requests (RFC 9126): on, required, or off (default). */
  pushedAuthorizationRequests?: boolean | 'required';
}

/** A random URL-safe secret. */
export function randomSecret(): string {
  return randomBytes(24).toString('base64url');
}

function signingKey(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomSecret(), alg: 'ES256', use: 'sig' };
}

function displayName(accountId: string): string {
  return accountId.charAt(0).toUpperCase() + accountId.slice(1);
}

function clientMetadata(settings: ProviderSettings): Record<string, unknown>[] {
  const shared = {
    application_type: 'native',
    grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
    response_types: ['code'],
    redirect_uris: [REGISTERED_REDIRECT_URI],
  };
  const { clients } = settings;
  return [
    { ...shared, client_id: clients.public.clientId, token_endpoint_auth_method: 'none' },
    {
      ...shared,
      client_id: clients.basic.clientId,
      client_secret: clients.basic.clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      ...shared,
      client_id: clients.post.clientId,
      client_secret: clients.post.clientSecret,
      token_endpoint_auth_method: 'client_secret_post',
    },
    ...(clients.workload
      ? [
          {
            client_id: clients.workload.clientId,
            token_endpoint_auth_method: 'none',
            grant_types: [JWT_BEARER_GRANT],
            response_types: [],
            redirect_uris: [],
          },
        ]
      : []),
  ];
}

/** What a resource (RFC 8707) is to the test server: its scopes, audience and token format. */
export function resourceServerInfo(settings: ProviderSettings) {
  const resourceScopes = [...new Set([...API_SCOPES, ...settings.extraScopes])];
  return async (_ctx: KoaContext, resource: string): Promise<Record<string, unknown>> => ({
    scope: resourceScopes.join(' '),
    audience: resource,
    accessTokenTTL: settings.accessTokenTtl,
    ...(settings.accessTokenFormat === 'jwt'
      ? { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }
      : { accessTokenFormat: 'opaque' }),
  });
}

/** Builds the oidc-provider configuration object for a test auth server. */
export function providerConfiguration(settings: ProviderSettings): Record<string, unknown> {
  const resourceScopes = [...new Set([...API_SCOPES, ...settings.extraScopes])];
  const ownToken = async (_ctx: unknown, client: ClientInstance, token: { clientId?: string }) =>
    token.clientId === client.clientId;
  return {
    adapter: settings.adapter,
    clients: clientMetadata(settings),
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    responseTypes: ['code'],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomSecret()] },
    scopes: [
      'openid',
      ...(settings.offlineAccessScope === false ? [] : ['offline_access']),
      'email',
      'profile',
      ...resourceScopes,
    ],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({
        sub,
        email: `${sub}@example.test`,
        email_verified: true,
        name: displayName(sub),
      }),
    }),
    pkce: { required: () => true },
    issueRefreshToken: async (_ctx: unknown, client: ClientInstance) =>
      client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: settings.rotateRefreshTokens,
    expiresWithSession: async () => false,
    clientBasedCORS: () => false,
    ...(settings.dpop?.required ? { extraClientMetadata: dpopRequiredMetadata() } : {}),
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
    },
    renderError: providerPages.renderError,
    ttl: {
      AccessToken: settings.accessTokenTtl,
      AuthorizationCode: 600,
      BackchannelAuthenticationRequest: 600,
      ClientCredentials: settings.accessTokenTtl,
      DeviceCode: 600,
      Grant: 365 * 24 * 60 * 60,
      IdToken: 3600,
      Interaction: 600,
      PreAuthorizedCode: 600,
      RefreshToken: settings.refreshTokenTtl,
      Session: 24 * 60 * 60,
    },
    features: {
      devInteractions: { enabled: false },
      dPoP: dpopFeature(settings.dpop),
      pushedAuthorizationRequests: {
        enabled:
          settings.pushedAuthorizationRequests !== undefined &&
          settings.pushedAuthorizationRequests !== false,
        requirePushedAuthorizationRequests: settings.pushedAuthorizationRequests === 'required',
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: providerPages.userCodeInputSource,
        userCodeConfirmSource: providerPages.userCodeConfirmSource,
        successSource: providerPages.successSource,
      },
      registration: {
        enabled: settings.dynamicRegistration === true,
        initialAccessToken: false,
      },
      revocation: { enabled: true, allowedPolicy: ownToken },
      introspection: { enabled: settings.introspection, allowedPolicy: ownToken },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: providerPages.logoutSource,
        postLogoutSuccessSource: providerPages.postLogoutSuccessSource,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx: KoaContext, _client: unknown, oneOf?: string) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: resourceServerInfo(settings),
      },
    },
  };
}
