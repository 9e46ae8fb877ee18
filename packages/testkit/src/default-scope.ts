import type { KoaMiddleware } from 'oidc-provider';

/**
 * Koa middleware giving GET authorization requests without a `scope` parameter the scope
 * `scope`. oidc-provider refuses to finish an authorization that grants no scope at all,
 * while many real servers accept a missing scope.
 */
export function defaultScopeMiddleware(scope: string): KoaMiddleware {
  return async (ctx, next) => {
    if (scope && ctx.method === 'GET' && ctx.path === '/auth') {
      const query = new URLSearchParams(ctx.querystring);
      if (!query.get('scope')) {
        query.set('scope', scope);
        ctx.querystring = query.toString();
      }
    }
    await next();
  };
}
