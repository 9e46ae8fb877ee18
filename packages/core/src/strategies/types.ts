import type { Credentials } from '../credentials.js';
import type { OpenUrl } from '../open-url.js';
import type { CredentialStore, JsonObject } from '../store/types.js';
import type { BrowserDriver } from './browser-driver.js';
import type { ProviderOf, StrategyBase } from './common-types.js';
import type { EventPayload } from './events.js';

/** How the user completes an interactive sign-in. */
export type SignInFlow = 'loopback' | 'device' | 'paste';

/**
 * Asks the host for the URL the browser was redirected to. It shows `url` to the user
 * (who may open it on another device), and returns what the user pasted back.
 */
export type PasteCallback = (url: string, signal: AbortSignal) => Promise<string>;

/** How the user takes part in a sign-in: the interaction hooks the host gave `authenticate()`. */
export interface Interaction {
  /** The account the host asked for. */
  readonly account?: string;
  /** Loopback (default), device code, or paste-back. */
  readonly flow?: SignInFlow;
  /** Shows the authorization URL and returns the pasted address (`flow: 'paste'`). */
  readonly paste?: PasteCallback;
  /** Opens the authorization URL; default: the system browser. */
  readonly openUrl?: OpenUrl;
  /** Opens the sign-in window of the `browser` strategy. */
  readonly browser?: BrowserDriver;
  /** The host's bound on the whole sign-in, which may shorten a strategy's own. */
  readonly timeoutMs?: number;
}

/** One interactive sign-in, as `authenticate()` asks an engine for it. */
export interface SignInRequest {
  /** Scopes to request (the provider's plus the host's). */
  readonly scopes: readonly string[];
  /** The stored credentials being replaced, if any. */
  readonly previous?: Credentials;
  /** How the user takes part. */
  readonly interaction: Interaction;
  /** Aborts on cancel or timeout. */
  readonly signal: AbortSignal;
  /** Reports progress. */
  emit(event: EventPayload): void;
}

/** The start of a sign-in that comes back to the host's own redirect URI (a web app). */
export interface RedirectStartRequest {
  /** The host's registered redirect URI, as the authorization request names it. */
  readonly redirectUri: string;
  /** The `state` to send; the callback is matched to the pending sign-in by it. */
  readonly state: string;
  /** Scopes to request (the provider's plus the host's). */
  readonly scopes: readonly string[];
  /** The account the host asked for. */
  readonly account?: string;
  /** Whether the user already has a login with a refresh token (for `authorizationParams`). */
  readonly hasRefreshToken: boolean;
  /** Aborts discovery, registration and a pushed request. */
  readonly signal: AbortSignal;
}

/** A started redirect sign-in: the URL to send the user to, and what finishing it needs. */
export interface RedirectStart {
  /** The authorization URL. */
  readonly url: string;
  /**
   * What the engine needs to finish (PKCE verifier, metadata, client, DPoP key): JSON
   * with secret values in clear, kept in the credential store until the callback.
   */
  readonly pending: JsonObject;
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
   * Starts a sign-in through the host's redirect URI. Absent for kinds that can only
   * sign in on the user's own machine (`browser`).
   */
  startRedirect?(request: RedirectStartRequest): Promise<RedirectStart>;
  /**
   * Finishes a redirect sign-in from the callback URL (already matched by `state`) and
   * what {@link startRedirect} kept, and returns credentials naming their account.
   */
  finishRedirect?(
    pending: JsonObject,
    callback: URL,
    state: string,
    signal: AbortSignal,
  ): Promise<Credentials>;
  /**
   * Renews credentials without the user. Throws `INVALID_GRANT` or `REAUTH_REQUIRED`
   * when only a new sign-in can help. A refresh of several tokens (linked tokens) calls
   * `save` with what it renewed so far before each further request, so a rotated
   * refresh token is kept when a later request fails.
   */
  refresh(
    current: Credentials,
    signal?: AbortSignal,
    save?: (partial: Credentials) => Promise<void>,
  ): Promise<Credentials>;
  /** Ends the grant at the service; `false` when the service cannot revoke. */
  revoke(current: Credentials, signal?: AbortSignal): Promise<boolean>;
}

/** What every engine gets. */
export interface EngineOptions {
  /** The credential store, for what an engine keeps besides credentials (client registrations). */
  readonly store: CredentialStore;
  /** The `fetch` for every request. */
  readonly fetch?: typeof fetch;
  /** Reports progress (the provider id is added). */
  emit(event: EventPayload): void;
}

/** What a strategy's definition check is told about the rest of the provider. */
export interface DefinitionContext {
  /** Whether the provider has an `identify` hook. */
  readonly hasIdentify: boolean;
}

/**
 * One strategy kind as a module: its definition check and its engine. `defineProvider()`
 * and `authenticate()` reach every kind through this shape, so adding a kind means
 * adding one of these to the registry.
 */
export interface StrategyModule<Definition, Strategy extends StrategyBase> {
  readonly kind: Strategy['kind'];
  /** Checks a definition and fills in defaults; throws `PROVIDER_CONFIG` naming the field. */
  define(definition: Definition, context: DefinitionContext): Strategy;
  /** Makes the engine for a provider of this kind. */
  createEngine(provider: ProviderOf<Strategy>, options: EngineOptions): StrategyEngine;
}
