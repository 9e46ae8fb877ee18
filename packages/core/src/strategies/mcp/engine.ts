import type * as oauth from 'oauth4webapi';
import { type Credentials, type McpLoginState, mcpAccountName } from '../../credentials.js';
import { LatchkeyError } from '../../errors.js';
import { signInOpener } from '../../open-url.js';
import { Secret } from '../../secret.js';
import type { ProviderOf } from '../common-types.js';
import { createOAuthContext, type OAuthContext } from '../oauth/authorization-server.js';
import { type DpopBinding, newDpopBinding, storedDpopBinding } from '../oauth/dpop.js';
import type { FlowContext } from '../oauth/flow-context.js';
import {
  corruptPending,
  finishRedirectFlow,
  pendingDpopBinding,
  readRedirectPending,
  startRedirectFlow,
} from '../oauth/redirect-flow.js';
import { runFlow } from '../oauth/run-flow.js';
import { refreshCredentials, revokeCredentials, toCredentials } from '../oauth/token-requests.js';
import type { ClientAuthentication } from '../oauth/types.js';
import type { EngineOptions, StrategyEngine } from '../types.js';
import type { BearerChallenge } from './challenge.js';
import {
  type DiscoveryHttp,
  discoverAuthorizationServer,
  discoverLegacyAuthorizationServer,
  discoverProtectedResource,
  fallbackAuthorizationServer,
  type ProtectedResourceMetadata,
} from './discovery.js';
import { runCrossAppAccess, runJwtBearer, runMachineGrant } from './machine-grants.js';
import { probeServer } from './probe.js';
import {
  clientAuthentication,
  type ResolvedClient,
  registrationKey,
  resolveClient,
} from './registration.js';
import type { McpStrategy } from './types.js';

/** What discovery found for one sign-in. */
export interface McpDiscovery {
  readonly challenge?: BearerChallenge;
  readonly resourceMetadata?: ProtectedResourceMetadata;
  readonly as: oauth.AuthorizationServer;
  /** Whether the metadata was published (false: 2025-03-26 default endpoints). */
  readonly published: boolean;
}

/**
 * The engine of the `mcp` strategy: discovery from the MCP server's challenge, client
 * identification, and the authorization code flow with PKCE and `resource` (or a
 * machine-to-machine grant), with tokens kept per authorization server.
 */
export function mcpEngine(
  provider: ProviderOf<McpStrategy>,
  options: EngineOptions,
): StrategyEngine {
  const strategy = provider.strategy;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const serverUrl = strategy.serverUrl;
  const http = (signal?: AbortSignal): DiscoveryHttp => ({
    fetch: fetchImpl,
    allowHttpLoopback: strategy.allowHttpLoopback,
    ...(signal ? { signal } : {}),
  });

  const discover = async (signal: AbortSignal): Promise<McpDiscovery> => {
    const challenge = await probeServer(serverUrl, http(signal));
    const resourceMetadata = await discoverProtectedResource(
      serverUrl,
      challenge?.resourceMetadata,
      http(signal),
    );
    let as: oauth.AuthorizationServer | undefined;
    if (resourceMetadata) {
      options.emit({
        type: 'resource_metadata_discovered',
        resource: resourceMetadata.resource,
        authorizationServers: resourceMetadata.authorization_servers ?? [],
      });
      const issuer = resourceMetadata.authorization_servers?.[0];
      if (!issuer) {
        throw new LatchkeyError(
          'DISCOVERY_FAILED',
          `The protected resource metadata at ${resourceMetadata.url} names no authorization server.`,
        );
      }
      as = await discoverAuthorizationServer(issuer, http(signal));
      // Default endpoints are for 2025-03-26 servers only, which publish no resource metadata.
      if (!as) {
        throw new LatchkeyError(
          'DISCOVERY_FAILED',
          `The authorization server ${issuer} named by ${resourceMetadata.url} publishes no metadata, so Latchkey will not guess its endpoints.`,
        );
      }
    } else {
      // A 2025-03-26 server: its origin is the authorization server.
      const origin = new URL(serverUrl).origin;
      as = await discoverLegacyAuthorizationServer(origin, http(signal));
    }
    const published = as !== undefined;
    const server = as ?? fallbackAuthorizationServer(new URL(serverUrl).origin);
    options.emit({ type: 'discovery_completed', issuer: server.issuer });
    return {
      ...(challenge ? { challenge } : {}),
      ...(resourceMetadata ? { resourceMetadata } : {}),
      as: server,
      published,
    };
  };

  // `resource` (RFC 8707): the protected resource metadata's value exactly as published,
  // else the canonical server URL; the same in the authorization, token and refresh requests.
  const resourceOf = (found: McpDiscovery): string => found.resourceMetadata?.resource ?? serverUrl;

  const contextFor = (
    as: oauth.AuthorizationServer,
    client: ResolvedClient | ClientLike,
    scopes: readonly string[],
    resource: string,
    dpop: DpopBinding | undefined,
  ) =>
    createOAuthContext(
      provider,
      as,
      {
        clientId: client.clientId,
        clientAuthentication: client.clientAuthentication,
        scopes,
        scopeSeparator: ' ',
        redirect: strategy.redirect,
        tokenParams: { resource },
      },
      {
        fetch: fetchImpl,
        allowHttpLoopback: strategy.allowHttpLoopback,
        ...(dpop ? { dpop } : {}),
      },
    );

  const loginState = (
    client: ClientLike & { method?: ResolvedClient['method'] },
    as: oauth.AuthorizationServer,
    resource: string,
  ): McpLoginState => ({
    kind: 'mcp',
    issuer: as.issuer,
    resource,
    clientId: client.clientId,
    tokenEndpointAuthMethod: client.clientAuthentication.method,
    ...(client.method ? { clientIdentification: client.method } : {}),
    ...(as.authorization_endpoint && as.token_endpoint
      ? {
          endpoints: {
            authorization: as.authorization_endpoint,
            token: as.token_endpoint,
            ...(as.revocation_endpoint ? { revocation: as.revocation_endpoint } : {}),
          },
        }
      : {}),
  });

  // What the engine kept with a stored login; a login without it cannot be renewed.
  const stateOf = (current: Credentials): McpLoginState => {
    const state = current.engine;
    if (state?.kind !== 'mcp') {
      throw new LatchkeyError(
        'REAUTH_REQUIRED',
        `The stored ${provider.name} login does not name the authorization server and client that obtained it. Sign in again.`,
      );
    }
    return state;
  };

  // The client that obtained `current`, to refresh or revoke with it.
  const clientOf = async (state: McpLoginState): Promise<ClientLike> => {
    const { clientId, tokenEndpointAuthMethod: method } = state;
    const machine = strategy.clientCredentials ?? strategy.crossAppAccess ?? strategy.jwtBearer;
    if (machine?.clientId === clientId) {
      return { clientId, clientAuthentication: machineAuthentication(strategy) };
    }
    if (strategy.client?.clientId === clientId) {
      return {
        clientId,
        clientAuthentication: clientAuthentication(
          method === 'client_secret_basic' || method === 'client_secret_post' ? method : 'none',
          strategy.client.clientSecret,
        ),
      };
    }
    const registration = await options.store.get(registrationKey(provider.id, state.issuer));
    const secretValue =
      registration?.client_id === clientId && typeof registration.client_secret === 'string'
        ? new Secret(registration.client_secret)
        : undefined;
    return {
      clientId,
      clientAuthentication: clientAuthentication(
        method === 'client_secret_basic' || method === 'client_secret_post' ? method : 'none',
        secretValue,
      ),
    };
  };

  const storedContext = async (
    current: Credentials,
    signal?: AbortSignal,
    purpose: 'refresh' | 'revoke' = 'refresh',
  ): Promise<OAuthContext> => {
    const state = stateOf(current);
    const { issuer, endpoints } = state;
    // Revocation needs no proof (RFC 9449 covers token requests and resource access), so a
    // login whose key is lost can still be revoked.
    const dpop =
      purpose === 'refresh' ? await storedDpopBinding(current, provider.name) : undefined;
    if (endpoints) {
      // Kept from the sign-in, where the metadata was checked: no discovery before a refresh.
      const kept: oauth.AuthorizationServer = {
        issuer,
        authorization_endpoint: endpoints.authorization,
        token_endpoint: endpoints.token,
        ...(endpoints.revocation ? { revocation_endpoint: endpoints.revocation } : {}),
      };
      return contextFor(kept, await clientOf(state), current.scopes, state.resource, dpop);
    }
    const origin = new URL(issuer).origin;
    const discovered =
      (await discoverAuthorizationServer(issuer, http(signal)).catch((error: unknown) => {
        // A 2025-03-26 server's metadata names an issuer below the origin it is served from.
        if (error instanceof LatchkeyError && error.code === 'ISSUER_MISMATCH') return undefined;
        throw error;
      })) ?? (await discoverLegacyAuthorizationServer(origin, http(signal)));
    // The tokens go back only to the server that issued them (RFC 8414 §3.3): metadata
    // found on the same origin under another issuer is not that server.
    if (discovered && discovered.issuer !== issuer) {
      throw new LatchkeyError(
        'ISSUER_MISMATCH',
        `The metadata of the authorization server ${issuer}, which issued the stored login, now names another issuer, so it was not used. The server is misconfigured; sign in again once it is fixed.`,
      );
    }
    const as = discovered ?? fallbackAuthorizationServer(origin);
    return contextFor(as, await clientOf(state), current.scopes, state.resource, dpop);
  };

  return {
    needsUser:
      strategy.clientCredentials === undefined &&
      strategy.crossAppAccess === undefined &&
      strategy.jwtBearer === undefined,
    async signIn(request) {
      const found = await discover(request.signal);
      const dpop = await newDpopBinding(strategy.dpop, found.as, provider.name);
      const machine = strategy.clientCredentials ?? strategy.crossAppAccess ?? strategy.jwtBearer;
      if (machine) {
        const client: ClientLike = {
          clientId: machine.clientId,
          clientAuthentication: machineAuthentication(strategy),
        };
        // No refresh token comes with a client credentials grant (RFC 6749 §4.4.3).
        const scopes = scopesFor(request.scopes, found, { offlineAccess: false });
        const resource = resourceOf(found);
        const context = contextFor(found.as, client, scopes, resource, dpop);
        const token = await machineGrant(strategy, context, scopes, request.signal);
        return toCredentials(context, token, mcpAccountName(found.as.issuer) ?? found.as.issuer, {
          scopes,
          engine: loginState(client, found.as, resource),
        });
      }
      if (found.published) requirePkce(found.as);
      const scopes = scopesFor(request.scopes, found);
      const resource = resourceOf(found);
      let resolved: ResolvedClient | undefined;
      const { interaction } = request;
      const flow: FlowContext = {
        redirect: strategy.redirect,
        contextFor: async (redirectUri) => {
          resolved = await resolveClient({
            providerId: provider.id,
            strategy,
            as: found.as,
            redirectUri: redirectUri ?? `http://127.0.0.1${strategy.redirect.path}`,
            store: options.store,
            http: http(request.signal),
            emit: (method) =>
              options.emit({ type: 'client_registered', issuer: found.as.issuer, method }),
          });
          return contextFor(found.as, resolved, scopes, resource, dpop);
        },
        scopes,
        // dpop_jkt binds the authorization code to the key as well (RFC 9449 §10).
        params: {
          resource,
          ...(dpop ? { dpop_jkt: await dpop.handle.calculateThumbprint() } : {}),
        },
        signal: request.signal,
        emit: request.emit,
        openUrl: signInOpener(interaction.openUrl),
      };
      const { token, context } = await runFlow(flow, interaction.flow, interaction.paste);
      const client = resolved as ResolvedClient;
      return toCredentials(context, token, mcpAccountName(found.as.issuer) ?? found.as.issuer, {
        scopes,
        engine: loginState(client, found.as, resource),
      });
    },
    async startRedirect(request) {
      if (strategy.clientCredentials || strategy.crossAppAccess || strategy.jwtBearer) {
        throw new LatchkeyError(
          'STRATEGY_UNSUPPORTED',
          `${provider.name} signs in with a machine-to-machine grant, without a user, so it has no redirect sign-in. Call authenticate() instead.`,
        );
      }
      const found = await discover(request.signal);
      if (found.published) requirePkce(found.as);
      const dpop = await newDpopBinding(strategy.dpop, found.as, provider.name);
      const scopes = scopesFor(request.scopes, found);
      const resource = resourceOf(found);
      // The host's redirect URI goes into registration as it is.
      const client = await resolveClient({
        providerId: provider.id,
        strategy,
        as: found.as,
        redirectUri: request.redirectUri,
        store: options.store,
        http: http(request.signal),
        emit: (method) =>
          options.emit({ type: 'client_registered', issuer: found.as.issuer, method }),
      });
      const context = contextFor(found.as, client, scopes, resource, dpop);
      const started = await startRedirectFlow(context, {
        redirectUri: request.redirectUri,
        state: request.state,
        scopes,
        params: {
          resource,
          ...(dpop ? { dpop_jkt: await dpop.handle.calculateThumbprint() } : {}),
        },
        signal: request.signal,
      });
      const login = loginState(client, found.as, resource);
      return {
        url: started.url,
        pending: {
          ...started.pending,
          // The instance that finishes uses the same server and client, without discovery.
          metadata: JSON.parse(JSON.stringify(found.as)),
          login: JSON.parse(JSON.stringify(login)),
          ...(dpop ? { dpopKey: dpop.key.reveal() } : {}),
        },
      };
    },
    async finishRedirect(pending, callback, state, signal) {
      const { metadata, login } = pending;
      const kept = readRedirectPending(pending);
      const keptLogin = login as unknown as McpLoginState | undefined;
      if (
        typeof metadata !== 'object' ||
        metadata === null ||
        typeof keptLogin !== 'object' ||
        keptLogin === null ||
        keptLogin.kind !== 'mcp' ||
        typeof keptLogin.clientId !== 'string' ||
        typeof keptLogin.resource !== 'string'
      ) {
        throw corruptPending();
      }
      const as = metadata as unknown as oauth.AuthorizationServer;
      const dpop = await pendingDpopBinding(pending);
      const context = contextFor(
        as,
        await clientOf(keptLogin),
        kept.scopes,
        keptLogin.resource,
        dpop,
      );
      const token = await finishRedirectFlow(context, kept, callback, state, signal);
      return toCredentials(context, token, mcpAccountName(as.issuer) ?? as.issuer, {
        scopes: kept.scopes,
        engine: keptLogin,
      });
    },
    async refresh(current, signal) {
      const context = await storedContext(current, signal);
      if (strategy.clientCredentials || strategy.crossAppAccess || strategy.jwtBearer) {
        // A machine grant has no refresh token: it simply asks again.
        const token = await machineGrant(strategy, context, current.scopes, signal);
        return toCredentials(context, token, current.account, {
          scopes: current.scopes,
          previous: current,
        });
      }
      return refreshCredentials(context, current, signal);
    },
    async revoke(current, signal) {
      return revokeCredentials(await storedContext(current, signal, 'revoke'), current, signal);
    },
  };
}

/** Runs the configured machine-to-machine grant. */
function machineGrant(
  strategy: McpStrategy,
  context: OAuthContext,
  scopes: readonly string[],
  signal?: AbortSignal,
) {
  const workload = strategy.jwtBearer;
  if (workload) {
    return runJwtBearer(context, async () => (await workload.assertion()).reveal(), scopes, signal);
  }
  const xaa = strategy.crossAppAccess;
  if (!xaa) return runMachineGrant(context, scopes, signal);
  return runCrossAppAccess(
    context,
    {
      tokenEndpoint: xaa.idpTokenEndpoint,
      ...(xaa.idpIssuer ? { issuer: xaa.idpIssuer } : {}),
      clientId: xaa.idpClientId,
      idToken: async () => (await xaa.idToken()).reveal(),
    },
    scopes,
    signal,
  );
}

/** A client id and how it authenticates. */
interface ClientLike {
  readonly clientId: string;
  readonly clientAuthentication: ClientAuthentication;
}

function requirePkce(as: oauth.AuthorizationServer): void {
  const methods = as.code_challenge_methods_supported;
  if (!Array.isArray(methods) || !methods.includes('S256')) {
    throw new LatchkeyError(
      'PKCE_UNSUPPORTED',
      `The authorization server ${as.issuer} does not advertise PKCE with S256 (code_challenge_methods_supported), so Latchkey will not sign in with it.`,
    );
  }
}

function machineAuthentication(strategy: McpStrategy): ClientAuthentication {
  const workload = strategy.jwtBearer;
  if (workload) {
    return workload.authMethod === 'none' || !workload.clientSecret
      ? { method: 'none' }
      : { method: workload.authMethod, clientSecret: workload.clientSecret };
  }
  const xaa = strategy.crossAppAccess;
  if (xaa) return { method: xaa.authMethod, clientSecret: xaa.clientSecret };
  const cc = strategy.clientCredentials;
  if (!cc) return { method: 'none' };
  if (cc.authMethod === 'private_key_jwt') {
    return {
      method: 'private_key_jwt',
      privateKey: cc.privateKey,
      ...(cc.keyId ? { keyId: cc.keyId } : {}),
    };
  }
  return { method: cc.authMethod, clientSecret: cc.clientSecret };
}

/**
 * The scopes to request: the challenge's `scope` is authoritative; else every scope the
 * protected resource supports; else none. Then the host's extra scopes, and
 * `offline_access` when the authorization server lists it (a refresh token is never
 * assumed) unless `offlineAccess` is false (grants that give no refresh token).
 */
export function scopesFor(
  requested: readonly string[],
  found: McpDiscovery,
  options: { offlineAccess?: boolean } = {},
): string[] {
  const base = found.challenge?.scope ?? found.resourceMetadata?.scopes_supported ?? [];
  const scopes = new Set([...base, ...requested]);
  const supported = found.as.scopes_supported;
  if (options.offlineAccess === false) scopes.delete('offline_access');
  else if (Array.isArray(supported) && supported.includes('offline_access'))
    scopes.add('offline_access');
  return [...scopes];
}
