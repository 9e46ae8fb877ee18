import type { AuthProvider } from '../provider/types.js';
import { browserEngine } from './browser-engine.js';
import type { EngineOptions, StrategyEngine } from './engine.js';
import { mcpEngine } from './mcp-engine.js';
import { oauthEngine } from './oauth-engine.js';

/** Makes the engine for a provider's strategy kind. */
export function createEngine(provider: AuthProvider, options: EngineOptions): StrategyEngine {
  switch (provider.strategy.kind) {
    case 'oauth':
      return oauthEngine(provider, options);
    case 'browser':
      return browserEngine(provider, options);
    case 'mcp':
      return mcpEngine(provider, options);
    default:
      throw new TypeError(
        `unknown strategy kind ${JSON.stringify((provider.strategy as { kind: unknown }).kind)}`,
      );
  }
}
