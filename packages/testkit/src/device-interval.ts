import type { KoaMiddleware } from 'oidc-provider';

/**
 * Koa middleware adding `interval` (seconds) to device authorization responses. oidc-provider
 * sends none, which makes RFC 8628 clients fall back to polling every 5 seconds.
 */
export function deviceIntervalMiddleware(interval: number): KoaMiddleware {
  return async (ctx, next) => {
    await next();
    const isDeviceAuthorization = ctx.method === 'POST' && ctx.path === '/device/auth';
    if (isDeviceAuthorization && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body = { ...(ctx.body as Record<string, unknown>), interval };
    }
  };
}
