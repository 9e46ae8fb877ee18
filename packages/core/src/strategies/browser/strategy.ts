import { fail } from '../definition-checks.js';
import type { StrategyModule } from '../types.js';
import { type BrowserStrategyDefinition, normalizeBrowser } from './definition.js';
import { browserEngine } from './engine.js';
import type { BrowserStrategy } from './types.js';

/** The `browser` strategy: its definition check and its engine. */
export const browserStrategy = {
  kind: 'browser',
  define(definition, context) {
    if (context.hasIdentify) {
      fail(
        'identify',
        'is not used by the browser strategy: name the account in strategy.validate',
      );
    }
    return normalizeBrowser(definition);
  },
  createEngine: browserEngine,
} satisfies StrategyModule<BrowserStrategyDefinition, BrowserStrategy>;
