import type { EventPayload } from '../events.js';
import type { OAuthContext } from './authorization-server.js';

/** What an interactive flow needs from `authenticate()`. */
export interface FlowContext {
  readonly context: OAuthContext;
  /** Scopes to request. */
  readonly scopes: readonly string[];
  /** Extra authorization request parameters from the provider. */
  readonly params: Record<string, string>;
  /** Aborts on cancel or timeout. */
  readonly signal: AbortSignal;
  /** Reports progress (the provider id is added). */
  emit(event: EventPayload): void;
  /** Opens a URL in the user's browser. */
  openUrl(url: string): Promise<void>;
}
