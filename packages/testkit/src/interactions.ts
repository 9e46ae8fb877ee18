import type Provider from 'oidc-provider';
import type { InteractionDetails, KoaContext, KoaMiddleware } from 'oidc-provider';
import { escapeHtml, htmlPage } from './html.js';
import { readForm } from './http-body.js';
import { consentPage, loginPage } from './interaction-pages.js';

/** How the fake user answers login and consent prompts. */
export type InteractionMode = 'auto' | 'form' | 'deny';

/** Live settings the interaction route reads on every request. */
export interface InteractionSettings {
  mode(): InteractionMode;
  account(): string;
}

const ROUTE = /^\/interaction\/([A-Za-z0-9_-]+)$/;

const DENIED = {
  error: 'access_denied',
  error_description: 'The user denied the request',
};

/** Koa middleware serving `/interaction/:uid` in 'auto', 'deny' and 'form' modes. */
export function interactionMiddleware(
  provider: Provider,
  settings: InteractionSettings,
): KoaMiddleware {
  return async (ctx, next) => {
    if (!ROUTE.test(ctx.path) || (ctx.method !== 'GET' && ctx.method !== 'POST')) {
      await next();
      return;
    }
    ctx.set('cache-control', 'no-store');
    try {
      if (ctx.method === 'GET') {
        await showInteraction(provider, settings, ctx);
      } else {
        await submitInteraction(provider, ctx);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = htmlPage('Interaction failed', `<p id="error">${escapeHtml(message)}</p>`);
    }
  };
}

async function showInteraction(
  provider: Provider,
  settings: InteractionSettings,
  ctx: KoaContext,
): Promise<void> {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const mode = settings.mode();
  if (mode === 'deny') {
    await finish(provider, ctx, DENIED);
    return;
  }
  if (mode === 'auto') {
    await finish(provider, ctx, await approve(provider, details, settings.account()));
    return;
  }
  ctx.type = 'html';
  ctx.body = details.prompt.name === 'login' ? loginPage(details) : consentPage(details);
}

async function submitInteraction(provider: Provider, ctx: KoaContext): Promise<void> {
  const form = await readForm(ctx.req);
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (form.get('decision') === 'deny') {
    await finish(provider, ctx, DENIED);
    return;
  }
  if (details.prompt.name === 'login') {
    const login = form.get('login')?.trim() ?? '';
    if (!login) {
      ctx.type = 'html';
      ctx.body = loginPage(details, 'Enter a username');
      return;
    }
    await finish(provider, ctx, { login: { accountId: login } });
    return;
  }
  await finish(provider, ctx, await approve(provider, details, details.session?.accountId ?? ''));
}

/** Builds the result that grants whatever the current prompt asks for. */
async function approve(
  provider: Provider,
  details: InteractionDetails,
  accountId: string,
): Promise<Record<string, unknown>> {
  const { name, details: missing } = details.prompt;
  if (name === 'login') {
    return { login: { accountId } };
  }
  if (name !== 'consent') {
    return { error: 'interaction_required', error_description: `unsupported prompt ${name}` };
  }
  const sessionAccount = details.session?.accountId;
  if (!sessionAccount) {
    throw new Error('consent prompt without a signed-in account');
  }
  const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const grant =
    existing ??
    new provider.Grant({ accountId: sessionAccount, clientId: details.params.client_id });
  if (missing.missingOIDCScope) {
    grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  }
  if (missing.missingOIDCClaims) {
    grant.addOIDCClaims(missing.missingOIDCClaims);
  }
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  const grantId = await grant.save();
  return { consent: { grantId } };
}

async function finish(
  provider: Provider,
  ctx: KoaContext,
  result: Record<string, unknown>,
): Promise<void> {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: false,
  });
  ctx.redirect(returnTo);
  ctx.status = 303;
}
