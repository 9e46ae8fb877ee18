import type { BrowserStrategy } from '../strategies/browser/types.js';
import type { AccountIdentity } from '../strategies/common-types.js';
import type { McpStrategy } from '../strategies/mcp/types.js';
import type { IdentifyContext, OAuthStrategy } from '../strategies/oauth/types.js';

/** A strategy that tells how credentials are obtained for a provider. */
export type AuthStrategy = OAuthStrategy | McpStrategy | BrowserStrategy;

/** The kinds of {@link AuthStrategy}. */
export type StrategyKind = AuthStrategy['kind'];

/**
 * A provider: plain data that tells Latchkey how to sign a user in to one service.
 * Make one with {@link defineProvider}.
 */
export interface AuthProvider {
  /** A stable id; part of the storage key, so never change it once released. */
  readonly id: string;
  /** A display name. */
  readonly name: string;
  /** How credentials are obtained. */
  readonly strategy: AuthStrategy;
  /**
   * Names the account the credentials belong to. Without it, Latchkey uses the ID
   * Token's `email`, then the userinfo endpoint, then the ID Token's `sub`, then `"default"`.
   */
  readonly identify?: (context: IdentifyContext) => Promise<AccountIdentity> | AccountIdentity;
  /** A sentence added to `REAUTH_REQUIRED` messages (for example a known refresh token limit). */
  readonly reauthHint?: string;
}
