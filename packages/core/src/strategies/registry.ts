import { browserStrategy } from './browser/strategy.js';
import { mcpStrategy } from './mcp/strategy.js';
import { oauthStrategy } from './oauth/strategy.js';
import type { AuthProvider, StrategyKind } from './provider.js';
import type { DefinitionContext, EngineOptions, StrategyEngine } from './types.js';

/**
 * Every strategy kind, by its `kind`: `defineProvider()` and `authenticate()` reach a
 * kind only through here (docs/guides/architecture.md lists what else a new kind adds).
 */
const STRATEGIES = {
  oauth: oauthStrategy,
  mcp: mcpStrategy,
  browser: browserStrategy,
} as const;

/** A strategy module as the registry hands it out: one kind's checks and engine. */
interface AnyStrategyModule {
  readonly kind: StrategyKind;
  define(definition: never, context: DefinitionContext): AuthProvider['strategy'];
  createEngine(provider: AuthProvider, options: EngineOptions): StrategyEngine;
}

/** The kinds `defineProvider()` accepts. */
export const STRATEGY_KINDS: readonly StrategyKind[] = Object.freeze(
  Object.keys(STRATEGIES) as StrategyKind[],
);

/** The module of a strategy kind, or `undefined` for an unknown kind. */
export function strategyModule(kind: unknown): AnyStrategyModule | undefined {
  if (typeof kind !== 'string' || !Object.hasOwn(STRATEGIES, kind)) return undefined;
  // Each module checks and runs providers of its own kind, which the lookup by kind guarantees.
  return STRATEGIES[kind as StrategyKind] as unknown as AnyStrategyModule;
}

/** Makes the engine for a provider's strategy kind. */
export function createEngine(provider: AuthProvider, options: EngineOptions): StrategyEngine {
  const module = strategyModule(provider.strategy.kind);
  if (!module) {
    throw new TypeError(`unknown strategy kind ${JSON.stringify(provider.strategy.kind)}`);
  }
  return module.createEngine(provider, options);
}
