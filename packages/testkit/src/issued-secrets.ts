import type { KoaMiddleware } from 'oidc-provider';

const FIELDS = ['access_token', 'refresh_token', 'id_token', 'device_code'] as const;
const issued = new Set<string>();

/**
 * Every secret value any test auth server in this process has handed out (tokens and
 * device codes), so a test run can check none of them ever reached its output.
 */
export function issuedSecrets(): ReadonlySet<string> {
  return issued;
}

/** Koa middleware that records the secret values in token and device responses. */
export function issuedSecretsMiddleware(): KoaMiddleware {
  return async (ctx, next) => {
    await next();
    const body: unknown = ctx.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
    for (const field of FIELDS) {
      const value = (body as Record<string, unknown>)[field];
      if (typeof value === 'string' && value.length >= 8) issued.add(value);
    }
  };
}
