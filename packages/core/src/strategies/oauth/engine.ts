import type { AuthorizationServer } from 'oauth4webapi';
import { type Credentials, freezeCredentials } from '../../credentials.js';
import { signInOpener } from '../../open-url.js';
import type { JsonObject } from '../../store/types.js';
import type { ProviderOf } from '../common-types.js';
import type { EngineOptions, StrategyEngine } from '../types.js';
import { type OAuthContext, resolveAuthorizationServer } from './authorization-server.js';
import { type DpopBinding, newDpopBinding, storedDpopBinding } from './dpop.js';
import type { FlowContext } from './flow-context.js';
import {
  finishRedirectFlow,
  pendingDpopBinding,
  readRedirectPending,
  startRedirectFlow,
} from './redirect-flow.js';
import { runFlow } from './run-flow.js';
import { credentialsForNewLogin, refreshCredentials, revokeCredentials } from './token-requests.js';
import type { OAuthStrategy } from './types.js';

/** The engine of the `oauth` strategy: authorization code + PKCE, refresh, revocation. */
export function oauthEngine(
  provider: ProviderOf<OAuthStrategy>,
  options: EngineOptions,
): StrategyEngine {
  const strategy = provider.strategy;
  let contextPromise: Promise<OAuthContext> | undefined;
  // Discovery runs once per engine, on first need, and again after a failure.
  const context = (signal?: AbortSignal): Promise<OAuthContext> => {
    contextPromise ??= resolveAuthorizationServer(provider, {
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(signal ? { signal } : {}),
    }).then((ctx) => {
      options.emit({ type: 'discovery_completed', issuer: ctx.as.issuer });
      return ctx;
    });
    contextPromise.catch(() => {
      contextPromise = undefined;
    });
    return contextPromise;
  };

  // Discovered metadata is kept with each login, so a refresh or revocation in a new
  // process needs no discovery request first; static endpoints need nothing kept.
  const withLoginState = (credentials: Credentials, ctx: OAuthContext): Credentials => {
    if (!strategy.discovery) return credentials;
    // Metadata is JSON as discovered; a copy keeps the stored login apart from the context.
    const metadata = JSON.parse(JSON.stringify(ctx.as)) as JsonObject;
    return freezeCredentials({
      ...credentials,
      engine: Object.freeze({ kind: 'oauth', issuer: ctx.as.issuer, metadata }),
    });
  };
  // Set after the metadata kept with a login failed once: this process discovers again.
  let keptFailed = false;
  const keptContext = (
    current: Credentials,
    signal: AbortSignal | undefined,
  ): Promise<OAuthContext> | undefined => {
    const kept = current.engine;
    // A context discovered in this process already is as cheap, and newer.
    if (contextPromise || keptFailed || kept?.kind !== 'oauth' || kept.issuer !== strategy.issuer) {
      return undefined;
    }
    return resolveAuthorizationServer(provider, {
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(signal ? { signal } : {}),
      known: kept.metadata as unknown as AuthorizationServer,
    });
  };

  // The provider's extra authorization parameters, and the DPoP key's thumbprint.
  const authorizationParams = async (
    input: { hasRefreshToken: boolean; account?: string | undefined; scopes: readonly string[] },
    dpop: DpopBinding | undefined,
  ): Promise<Record<string, string>> => ({
    ...strategy.authorizationParams?.({
      hasRefreshToken: input.hasRefreshToken,
      ...(input.account !== undefined ? { account: input.account } : {}),
      scopes: input.scopes,
    }),
    ...(dpop ? { dpop_jkt: await dpop.handle.calculateThumbprint() } : {}),
  });

  return {
    needsUser: true,
    async signIn(request) {
      const discovered = await context(request.signal);
      // Each login gets a DPoP key of its own, when the policy and the server call for one.
      const dpop = await newDpopBinding(strategy.dpop, discovered.as, provider.name);
      const ctx = dpop ? discovered.withDpop(dpop) : discovered;
      const { interaction } = request;
      const flow: FlowContext = {
        redirect: strategy.redirect,
        contextFor: async () => ctx,
        scopes: request.scopes,
        params: await authorizationParams(
          {
            hasRefreshToken: request.previous?.refreshToken !== undefined,
            account: interaction.account,
            scopes: request.scopes,
          },
          dpop,
        ),
        signal: request.signal,
        emit: request.emit,
        openUrl: signInOpener(interaction.openUrl),
      };
      const { token } = await runFlow(flow, interaction.flow, interaction.paste);
      const credentials = await credentialsForNewLogin(ctx, token, request.scopes, request.signal);
      return withLoginState(credentials, ctx);
    },
    async startRedirect(request) {
      const discovered = await context(request.signal);
      const dpop = await newDpopBinding(strategy.dpop, discovered.as, provider.name);
      const ctx = dpop ? discovered.withDpop(dpop) : discovered;
      const started = await startRedirectFlow(ctx, {
        redirectUri: request.redirectUri,
        state: request.state,
        scopes: request.scopes,
        params: await authorizationParams(request, dpop),
        signal: request.signal,
      });
      return {
        url: started.url,
        pending: {
          ...started.pending,
          // The instance that finishes needs no discovery, and uses the same server.
          ...(strategy.discovery ? { metadata: JSON.parse(JSON.stringify(ctx.as)) } : {}),
          ...(dpop ? { dpopKey: dpop.key.reveal() } : {}),
        },
      };
    },
    async finishRedirect(pending, callback, state, signal) {
      const { metadata } = pending;
      const kept = readRedirectPending(pending);
      const known =
        strategy.discovery && typeof metadata === 'object' && metadata !== null
          ? resolveAuthorizationServer(provider, {
              ...(options.fetch ? { fetch: options.fetch } : {}),
              signal,
              known: metadata as unknown as AuthorizationServer,
            })
          : undefined;
      const base = known ? await known : await context(signal);
      const dpop = await pendingDpopBinding(pending);
      const ctx = dpop ? base.withDpop(dpop) : base;
      const token = await finishRedirectFlow(ctx, kept, callback, state, signal);
      const credentials = await credentialsForNewLogin(ctx, token, kept.scopes, signal);
      return withLoginState(credentials, ctx);
    },
    async refresh(current, signal, save) {
      const dpop = await storedDpopBinding(current, provider.name);
      const kept = keptContext(current, signal);
      const ctx = kept ? await kept : await context(signal);
      try {
        const next = await refreshCredentials(
          dpop ? ctx.withDpop(dpop) : ctx,
          current,
          signal,
          save,
        );
        return kept ? next : withLoginState(next, ctx);
      } catch (error) {
        // Never sent again at once: the server may have spent the refresh token. The
        // metadata may be out of date, so the next attempt discovers it anew.
        if (kept) keptFailed = true;
        throw error;
      }
    },
    async revoke(current, signal) {
      return revokeCredentials(
        (await keptContext(current, signal)) ?? (await context(signal)),
        current,
        signal,
      );
    },
  };
}
