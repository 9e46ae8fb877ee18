import type { Secret } from '../secret.js';
import type { JsonObject } from '../store/types.js';

// Types every strategy may use; no strategy imports another strategy's types for them.

/** The account a set of credentials belongs to. */
export interface AccountIdentity {
  /** A stable name for the account (an email address, a team id, a user id). */
  account: string;
  /** Non-secret details to keep with the credentials (display name, team name...). */
  metadata?: Record<string, string | number | boolean>;
}

/** The fixed parts of the redirect URI, for services that need an exact registered URI. */
export interface RedirectOptions {
  /** Port of the loopback listener; `0` (the default) picks a free one. */
  port: number;
  /** Path of the callback, starting with `/`. Default `/callback`. */
  path: string;
}

/** What a provider's `identify` hook is given. */
export interface IdentifyContext {
  /** The access token just obtained. */
  accessToken: Secret;
  /** Claims of the ID Token, when one was returned (OpenID Connect). */
  idTokenClaims?: Readonly<Record<string, unknown>>;
  /** Non-secret metadata collected so far (for example from `mapTokenResponse`). */
  metadata: Readonly<Record<string, string | number | boolean>>;
  /** The `fetch` the host configured. */
  fetch: typeof fetch;
  /** Calls the userinfo endpoint with the access token, when the provider has one. */
  userinfo(): Promise<JsonObject>;
  /** Aborts when the flow is cancelled or times out. */
  signal: AbortSignal;
}

/**
 * A provider as an engine sees it: plain data with its strategy of kind `S`. An
 * {@link AuthProvider} is a `ProviderOf` the union of every strategy.
 */
export interface ProviderOf<S> {
  /** A stable id; part of the storage key, so never change it once released. */
  readonly id: string;
  /** A display name. */
  readonly name: string;
  /** How credentials are obtained. */
  readonly strategy: S;
  /**
   * Names the account the credentials belong to. Without it, Latchkey uses the ID
   * Token's `email`, then the userinfo endpoint, then the ID Token's `sub`, then `"default"`.
   */
  readonly identify?: (context: IdentifyContext) => Promise<AccountIdentity> | AccountIdentity;
  /** A sentence added to `REAUTH_REQUIRED` messages (for example a known refresh token limit). */
  readonly reauthHint?: string;
  /**
   * Which scopes a wider scope includes, as the service documents it (Google's `drive`
   * includes `drive.readonly`): a login granted the wider one covers a request or a
   * recipe that needs the narrower.
   */
  readonly scopeImplies?: Readonly<Record<string, readonly string[]>>;
}

/** The part of a strategy every engine can rely on: its kind. */
export interface StrategyBase {
  readonly kind: string;
}
