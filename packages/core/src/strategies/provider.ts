import type { BrowserStrategy } from './browser/types.js';
import type { ProviderOf } from './common-types.js';
import type { McpStrategy } from './mcp/types.js';
import type { OAuthStrategy } from './oauth/types.js';

/** A strategy that tells how credentials are obtained for a provider. */
export type AuthStrategy = OAuthStrategy | McpStrategy | BrowserStrategy;

/** The kinds of {@link AuthStrategy}. */
export type StrategyKind = AuthStrategy['kind'];

/**
 * A provider: plain data that tells Latchkey how to sign a user in to one service.
 * Make one with {@link defineProvider}.
 */
export interface AuthProvider extends ProviderOf<AuthStrategy> {}
