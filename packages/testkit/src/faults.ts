import type { KoaContext } from 'oidc-provider';

/** Endpoints a fault can be injected on. */
export type FaultEndpoint = 'token' | 'discovery' | 'revocation' | 'device';

/** The broken responses a fault can produce. */
export type FaultKind =
  | 'html-500'
  | 'http-500-json'
  | 'malformed-json'
  | 'missing-access-token'
  | 'wrong-issuer'
  | 'slow';

/**
 * A broken response for the next matching requests: `times` of them (default: until cleared).
 * 'wrong-issuer' only changes discovery responses; 'slow' waits `delayMs` (default 2000) and then
 * answers normally.
 */
export interface Fault {
  endpoint: FaultEndpoint;
  kind: FaultKind;
  times?: number;
  delayMs?: number;
}

/** Default delay of a 'slow' fault. */
export const SLOW_FAULT_MS = 2000;

/** Holds the active fault and counts down its uses. */
export class FaultInjector {
  #fault: Fault | undefined;
  #remaining = 0;

  /** Activates `fault`, or clears it when undefined. */
  set(fault: Fault | undefined): void {
    this.#fault = fault ? { ...fault } : undefined;
    this.#remaining = fault?.times ?? Number.POSITIVE_INFINITY;
    if (this.#remaining <= 0) {
      this.#fault = undefined;
    }
  }

  /** Returns the fault for a request to `endpoint`, using up one of its times. */
  take(endpoint: string): Fault | undefined {
    const fault = this.#fault;
    if (!fault || fault.endpoint !== endpoint) {
      return undefined;
    }
    this.#remaining -= 1;
    if (this.#remaining <= 0) {
      this.#fault = undefined;
    }
    return fault;
  }
}

/** Writes the broken response for faults answered without oidc-provider; false otherwise. */
export function writeBrokenResponse(ctx: KoaContext, kind: FaultKind): boolean {
  ctx.set('cache-control', 'no-store');
  switch (kind) {
    case 'html-500':
      ctx.status = 500;
      ctx.type = 'text/html; charset=utf-8';
      ctx.body =
        '<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>' +
        '<body><h1>Internal Server Error</h1><p>The proxy had a bad day.</p></body></html>';
      return true;
    case 'http-500-json':
      ctx.status = 500;
      ctx.type = 'application/json';
      ctx.body = '{"error":"server_error"}';
      return true;
    case 'malformed-json':
      ctx.status = 200;
      ctx.type = 'application/json';
      ctx.body = '{"access_token": "abc",';
      return true;
    case 'missing-access-token':
      ctx.status = 200;
      ctx.type = 'application/json';
      ctx.body = '{"token_type":"Bearer","expires_in":3600}';
      return true;
    default:
      return false;
  }
}
