import type { KoaContext, KoaMiddleware } from 'oidc-provider';
import type { RequestCounter } from './counts.js';
import { endpointOf } from './endpoints.js';
import { type FaultInjector, SLOW_FAULT_MS, writeBrokenResponse } from './faults.js';
import { readForm } from './http-body.js';
import { sleep } from './sleep.js';

/** What the traffic middleware needs from its server. */
export interface TrafficOptions {
  counter: RequestCounter;
  faults: FaultInjector;
  /** Issuer to put in discovery documents for the 'wrong-issuer' fault. */
  wrongIssuer: string;
  /** Aborted when the server closes, cutting 'slow' faults short. */
  signal: AbortSignal;
}

/** Koa middleware that counts requests per endpoint and injects faults ahead of oidc-provider. */
export function trafficMiddleware(options: TrafficOptions): KoaMiddleware {
  const { counter, faults, wrongIssuer, signal } = options;
  return async (ctx, next) => {
    const endpoint = endpointOf(ctx.method, ctx.path);
    if (!endpoint) {
      await next();
      return;
    }
    const fault = endpoint === 'userinfo' ? undefined : faults.take(endpoint);
    let grantType: string | undefined;
    try {
      if (fault && writeBrokenResponse(ctx, fault.kind)) {
        if (endpoint === 'token') {
          grantType = (await readForm(ctx.req)).get('grant_type') ?? undefined;
        }
        return;
      }
      if (fault?.kind === 'slow') {
        await sleep(fault.delayMs ?? SLOW_FAULT_MS, signal);
      }
      await next();
      if (fault?.kind === 'wrong-issuer' && endpoint === 'discovery') {
        replaceIssuer(ctx, wrongIssuer);
      }
      if (endpoint === 'token') {
        grantType = grantTypeOf(ctx);
      }
    } finally {
      counter.record(endpoint, grantType);
    }
  };
}

function grantTypeOf(ctx: KoaContext): string | undefined {
  const value = ctx.oidc?.body?.grant_type;
  return typeof value === 'string' ? value : undefined;
}

function replaceIssuer(ctx: KoaContext, issuer: string): void {
  if (ctx.body && typeof ctx.body === 'object') {
    ctx.body = { ...(ctx.body as Record<string, unknown>), issuer };
  }
}
