import { type Credentials, renewBy, sameTokens } from '../credentials.js';
import { LatchkeyError } from '../errors.js';
import { MAX_TIMER_MS } from '../util/abort.js';
import type { CredentialSource } from './credential-source.js';

/** Options of {@link refreshSchedule}. Internal. */
export interface RefreshScheduleOptions {
  source: CredentialSource;
  /** Whether the source can refresh (a session); plain credentials are never refreshed here. */
  refreshable: boolean;
  /**
   * How long before expiry to refresh. Default 60 s; never more than half the token's
   * lifetime, so short-lived tokens are refreshed at half-life.
   */
  leadMs?: number;
  /** Gets credentials the timer obtained. */
  onRefreshed(credentials: Credentials): void;
  /** Reports a failed refresh; `retryInMs` is absent when Latchkey stops trying. */
  onError(error: LatchkeyError, retryInMs: number | undefined): void;
}

/** A timer that refreshes a session's credentials ahead of their expiry. Internal. */
export interface RefreshSchedule {
  /** (Re)arms the timer for these credentials. */
  schedule(credentials: Credentials): void;
  /** Clears the timer for good. */
  stop(): void;
}

const DEFAULT_LEAD_MS = 60_000;
const FATAL = new Set(['REAUTH_REQUIRED', 'LOGIN_REQUIRED', 'STORE_CORRUPT']);

/** How long before expiry credentials are refreshed. */
export function refreshLead(credentials: Credentials, leadMs = DEFAULT_LEAD_MS): number {
  const at = renewBy(credentials);
  if (at === undefined) return leadMs;
  return Math.min(leadMs, Math.max(0, (at - credentials.obtainedAt) / 2));
}

/**
 * Calls `source.fresh()` shortly before the access token (or a linked token) expires, so a server that
 * cannot refresh by itself gets new credentials while the old ones still work. The
 * timer is unref'd: it never keeps the host alive.
 */
export function refreshSchedule(options: RefreshScheduleOptions): RefreshSchedule {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const arm = (delayMs: number, credentials: Credentials) => {
    if (timer) clearTimeout(timer);
    if (stopped) return;
    // Node fires longer timers at once: wait in steps for tokens that live for weeks.
    timer =
      delayMs > MAX_TIMER_MS
        ? setTimeout(() => arm(delayMs - MAX_TIMER_MS, credentials), MAX_TIMER_MS)
        : setTimeout(() => void fire(credentials), Math.max(0, delayMs));
    timer.unref?.();
  };

  const fire = async (held: Credentials) => {
    timer = undefined;
    const lead = refreshLead(held, options.leadMs);
    try {
      // A little more than the lead, so a timer that fires a millisecond early still refreshes.
      const next = await options.source.fresh({ minValidityMs: lead + 1000 });
      if (stopped) return;
      if (sameTokens(next, held)) {
        arm(1000, held);
        return;
      }
      options.onRefreshed(next);
    } catch (error) {
      if (stopped) return;
      const failure =
        error instanceof LatchkeyError
          ? error
          : new LatchkeyError('NETWORK_ERROR', 'Refreshing the credentials failed.');
      if (FATAL.has(failure.code)) {
        options.onError(failure, undefined);
        return;
      }
      const left = (renewBy(held) ?? Date.now()) - Date.now();
      const retryInMs = Math.min(30_000, Math.max(1_000, left / 4));
      options.onError(failure, retryInMs);
      arm(retryInMs, held);
    }
  };

  return {
    schedule(credentials) {
      const at = renewBy(credentials);
      if (stopped || !options.refreshable || at === undefined) return;
      arm(at - refreshLead(credentials, options.leadMs) - Date.now(), credentials);
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
