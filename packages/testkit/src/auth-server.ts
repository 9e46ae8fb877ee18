/// <reference path="./oidc-provider.d.ts" />
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type KoaMiddleware } from 'oidc-provider';
import { RequestCounter, type RequestCounts } from './counts.js';
import { defaultScopeMiddleware } from './default-scope.js';
import { deviceIntervalMiddleware } from './device-interval.js';
import type { AuthServerDpopOptions } from './dpop-provider.js';
import { type Fault, FaultInjector } from './faults.js';
import { type InteractionMode, interactionMiddleware } from './interactions.js';
import { issuedSecretsMiddleware } from './issued-secrets.js';
import { type JwtBearerOptions, registerJwtBearerGrant } from './jwt-bearer.js';
import { allowAnyLoopbackRedirect, LOOPBACK_HOST } from './loopback-redirects.js';
import { MemoryStore } from './memory-store.js';
import {
  type ProviderSettings,
  providerConfiguration,
  randomSecret,
  resourceServerInfo,
} from './provider-config.js';
import { trafficMiddleware } from './traffic.js';

/** Options of {@link startAuthServer}. */
export interface AuthServerOptions {
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTtl?: number;
  /** Refresh token lifetime in seconds (default one day). */
  refreshTokenTtl?: number;
  /** Issue a new refresh token on every refresh and reject reuse of the old one (default true). */
  rotateRefreshTokens?: boolean;
  /** How the fake user answers login and consent (default 'auto'). */
  interaction?: InteractionMode;
  /** Account that 'auto' mode signs in as (default 'alice'). */
  account?: string;
  /** Scopes added to openid, offline_access, email, profile, read and write. */
  extraScopes?: string[];
  /** Enable the introspection endpoint (default true). */
  introspection?: boolean;
  /** `interval` in seconds put in device authorization responses (default 1). */
  devicePollInterval?: number;
  /** Scope given to GET authorization requests that carry none (default 'read'; '' to keep none). */
  defaultScope?: string;
  /** Open dynamic client registration (RFC 7591) at `/reg` (default false). */
  dynamicRegistration?: boolean;
  /**
   * Format of access tokens issued for a `resource` (RFC 8707): 'jwt' gives ES256 JWTs
   * whose `aud` is the resource, verifiable with the server's `/jwks` (default 'opaque').
   */
  accessTokenFormat?: 'opaque' | 'jwt';
  /** Whether `offline_access` is a known scope listed in `scopes_supported` (default true). */
  offlineAccessScope?: boolean;
  /**
   * DPoP (RFC 9449): advertised, and tokens requested with a proof are bound to its key.
   * Off without this option.
   */
  dpop?: AuthServerDpopOptions;
  /**
   * The JWT bearer grant (RFC 7523 §2.1) for workload identity, trusting one workload
   * identity provider; `clients.workload` may use it. Off without this option.
   */
  jwtBearer?: JwtBearerOptions;
  /**
   * Pushed authorization requests (RFC 9126): `true` advertises the PAR endpoint,
   * `'required'` also sets `require_pushed_authorization_requests` and refuses plain
   * authorization requests. Off by default, so authorization URLs carry their parameters.
   */
  pushedAuthorizationRequests?: boolean | 'required';
  /** Koa middleware run ahead of the testkit's own, to observe requests and responses. */
  middleware?: KoaMiddleware[];
}

/** Client credentials registered on a test auth server. */
export interface TestClients {
  /** Public client, token_endpoint_auth_method 'none'. */
  public: { clientId: string };
  /** Confidential client, client_secret_basic. */
  basic: { clientId: string; clientSecret: string };
  /** Confidential client, client_secret_post. */
  post: { clientId: string; clientSecret: string };
  /** Public client allowed only the JWT bearer grant, with the `jwtBearer` option. */
  workload?: { clientId: string };
}

/**
 * A running oidc-provider authorization server on `http://127.0.0.1:<port>`.
 * Every client is a native client registered with `http://127.0.0.1/callback`; any
 * `http://127.0.0.1:<port>/<path>` redirect URI is accepted as well.
 */
export interface TestAuthServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  issuer: string;
  /** Pre-registered clients. */
  clients: TestClients;
  /** Requests seen per endpoint since start or the last reset. */
  counts(): RequestCounts;
  /** Zeroes every request count. */
  resetCounts(): void;
  /** Switches how login and consent are answered from the next interaction on. */
  setInteraction(mode: InteractionMode): void;
  /** Sets the account that 'auto' mode signs in as. */
  setAccount(accountId: string): void;
  /** Breaks the next matching responses (all of them until cleared, or `times`); undefined clears. */
  fault(fault: Fault | undefined): void;
  /** Deletes the account's grants and tokens, so refreshing with them fails with invalid_grant. */
  revokeGrantsFor(accountId: string): Promise<void>;
  /** Stops the server and drops every open connection. */
  close(): Promise<void>;
}

const DEFAULT_ACCESS_TOKEN_TTL = 3600;
const DEFAULT_REFRESH_TOKEN_TTL = 24 * 60 * 60;

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved <= 0) {
    throw new TypeError(`${name} must be a positive integer number of seconds`);
  }
  return resolved;
}

/** Starts an in-process oidc-provider authorization server on 127.0.0.1 with a random port. */
export async function startAuthServer(options: AuthServerOptions = {}): Promise<TestAuthServer> {
  const accessTokenTtl = positive(
    options.accessTokenTtl,
    DEFAULT_ACCESS_TOKEN_TTL,
    'accessTokenTtl',
  );
  const refreshTokenTtl = positive(
    options.refreshTokenTtl,
    DEFAULT_REFRESH_TOKEN_TTL,
    'refreshTokenTtl',
  );
  const devicePollInterval = positive(options.devicePollInterval, 1, 'devicePollInterval');
  let mode: InteractionMode = options.interaction ?? 'auto';
  let account = options.account ?? 'alice';
  const clients: TestClients = {
    public: { clientId: 'latchkey-public' },
    basic: { clientId: 'latchkey-basic', clientSecret: randomSecret() },
    post: { clientId: 'latchkey-post', clientSecret: randomSecret() },
    ...(options.jwtBearer ? { workload: { clientId: 'latchkey-workload' } } : {}),
  };
  const store = new MemoryStore();
  const counter = new RequestCounter();
  const faults = new FaultInjector();
  const lifetime = new AbortController();

  const server = createServer();
  const port = await listen(server);
  const issuer = `http://${LOOPBACK_HOST}:${port}`;

  let provider: Provider;
  try {
    const settings: ProviderSettings = {
      accessTokenTtl,
      refreshTokenTtl,
      rotateRefreshTokens: options.rotateRefreshTokens ?? true,
      introspection: options.introspection ?? true,
      extraScopes: options.extraScopes ?? [],
      clients,
      adapter: store.adapterFactory(),
      dynamicRegistration: options.dynamicRegistration ?? false,
      accessTokenFormat: options.accessTokenFormat ?? 'opaque',
      offlineAccessScope: options.offlineAccessScope ?? true,
      ...(options.dpop ? { dpop: options.dpop } : {}),
      pushedAuthorizationRequests: options.pushedAuthorizationRequests ?? false,
    };
    provider = new Provider(issuer, providerConfiguration(settings));
    if (options.jwtBearer) {
      registerJwtBearerGrant(provider, options.jwtBearer, resourceServerInfo(settings));
    }
  } catch (error) {
    await stop(server);
    throw error;
  }
  allowAnyLoopbackRedirect(provider);
  for (const middleware of options.middleware ?? []) provider.use(middleware);
  provider.use(issuedSecretsMiddleware());
  provider.use(
    trafficMiddleware({
      counter,
      faults,
      wrongIssuer: `http://${LOOPBACK_HOST}:${port}/not-the-issuer`,
      signal: lifetime.signal,
    }),
  );
  provider.use(deviceIntervalMiddleware(devicePollInterval));
  provider.use(defaultScopeMiddleware(options.defaultScope ?? 'read'));
  provider.use(interactionMiddleware(provider, { mode: () => mode, account: () => account }));
  server.on('request', provider.callback());

  let closing: Promise<void> | undefined;
  return {
    issuer,
    clients,
    counts: () => counter.snapshot(),
    resetCounts: () => counter.reset(),
    setInteraction: (next) => {
      mode = next;
    },
    setAccount: (accountId) => {
      account = accountId;
    },
    fault: (fault) => faults.set(fault),
    revokeGrantsFor: async (accountId) => {
      store.revokeAccount(accountId);
    },
    close: () => {
      closing ??= (async () => {
        lifetime.abort();
        faults.set(undefined);
        await stop(server);
        store.clear();
      })();
      return closing;
    },
  };
}
