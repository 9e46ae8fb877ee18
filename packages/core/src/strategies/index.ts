import type { AuthProvider } from '../provider/types.js';
import type { EngineOptions, StrategyEngine } from './engine.js';
import { oauthEngine } from './oauth-engine.js';

/** Makes the engine for a provider's strategy kind. */
export function createEngine(provider: AuthProvider, options: EngineOptions): StrategyEngine {
  switch (provider.strategy.kind) {
    case 'oauth':
      return oauthEngine(provider, options);
    default:
      throw new TypeError(
        `unknown strategy kind ${JSON.stringify((provider.strategy as { kind: unknown }).kind)}`,
      );
  }
}
