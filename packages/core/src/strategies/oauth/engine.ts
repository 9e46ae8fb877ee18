import { signInOpener } from '../../open-url.js';
import type { ProviderOf } from '../common-types.js';
import type { EngineOptions, StrategyEngine } from '../types.js';
import { type OAuthContext, resolveAuthorizationServer } from './authorization-server.js';
import { newDpopBinding, storedDpopBinding } from './dpop.js';
import type { FlowContext } from './flow-context.js';
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
        params: {
          ...strategy.authorizationParams?.({
            hasRefreshToken: request.previous?.refreshToken !== undefined,
            ...(interaction.account !== undefined ? { account: interaction.account } : {}),
            scopes: request.scopes,
          }),
          ...(dpop ? { dpop_jkt: await dpop.handle.calculateThumbprint() } : {}),
        },
        signal: request.signal,
        emit: request.emit,
        openUrl: signInOpener(interaction.openUrl),
      };
      const { token } = await runFlow(flow, interaction.flow, interaction.paste);
      return credentialsForNewLogin(ctx, token, request.scopes, request.signal);
    },
    async refresh(current, signal, save) {
      const ctx = await context(signal);
      const dpop = await storedDpopBinding(current, provider.name);
      return refreshCredentials(dpop ? ctx.withDpop(dpop) : ctx, current, signal, save);
    },
    async revoke(current, signal) {
      return revokeCredentials(await context(signal), current, signal);
    },
  };
}
