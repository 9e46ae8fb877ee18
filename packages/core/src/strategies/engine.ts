import type { AuthenticateOptions } from '../authenticate.js';
import type { Credentials } from '../credentials.js';
import type { EventPayload } from '../events.js';
import type { AuthProvider } from '../provider/types.js';
import type { CredentialStore } from '../store/types.js';

/** One interactive sign-in, as `authenticate()` asks an engine for it. */
export interface SignInRequest {
  /** The host's options. */
  readonly options: AuthenticateOptions;
  /** Scopes to request (the provider's plus the host's). */
  readonly scopes: readonly string[];
  /** The stored credentials being replaced, if any. */
  readonly previous?: Credentials;
  /** Aborts on cancel or timeout. */
  readonly signal: AbortSignal;
  /** Reports progress. */
  emit(event: EventPayload): void;
}

/**
 * What a strategy kind does, behind one interface: sign in, refresh, revoke. The
 * orchestration around it (store, locks, sessions) is shared by every kind.
 */
export interface StrategyEngine {
  /** Whether signing in needs the user (false for machine-to-machine grants). */
  readonly needsUser: boolean;
  /** Runs an interactive sign-in and returns credentials naming their account. */
  signIn(request: SignInRequest): Promise<Credentials>;
  /**
   * Renews credentials without the user. Throws `INVALID_GRANT` or `REAUTH_REQUIRED`
   * when only a new sign-in can help.
   */
  refresh(current: Credentials, signal?: AbortSignal): Promise<Credentials>;
  /** Ends the grant at the service; `false` when the service cannot revoke. */
  revoke(current: Credentials, signal?: AbortSignal): Promise<boolean>;
}

/** What every engine gets. */
export interface EngineOptions {
  /** The credential store, for what an engine keeps besides credentials (client registrations). */
  store: CredentialStore;
  /** The `fetch` for every request. */
  fetch?: typeof fetch;
  /** Reports progress (the provider id is added). */
  emit(event: EventPayload): void;
}

/** Makes the engine of a provider's strategy kind. */
export type EngineFactory = (provider: AuthProvider, options: EngineOptions) => StrategyEngine;
