import type { SignInPage } from '../../open-url.js';
import type { RedirectOptions } from '../common-types.js';
import type { EventPayload } from '../events.js';
import type { OAuthContext } from './authorization-server.js';
import type { TokenResult } from './token-requests.js';

/** What an interactive flow needs from `authenticate()`. */
export interface FlowContext {
  /** The loopback redirect's port and path. */
  readonly redirect: Readonly<RedirectOptions>;
  /**
   * The authorization server context to use with this redirect URI (`undefined` for
   * the device flow). Resolved once the redirect URI is known, because some clients
   * are registered for it (RFC 7591).
   */
  contextFor(redirectUri: string | undefined): Promise<OAuthContext>;
  /** Scopes to request. */
  readonly scopes: readonly string[];
  /** Extra authorization request parameters from the provider. */
  readonly params: Record<string, string>;
  /** Aborts on cancel or timeout. */
  readonly signal: AbortSignal;
  /** Reports progress (the provider id is added). */
  emit(event: EventPayload): void;
  /** Opens a URL in the user's browser; `page` lets the host report an error page. */
  openUrl(url: string, page: SignInPage): Promise<void>;
}

/** What a flow produced: the token response and the context that obtained it. */
export interface FlowResult {
  readonly token: TokenResult;
  readonly context: OAuthContext;
}
