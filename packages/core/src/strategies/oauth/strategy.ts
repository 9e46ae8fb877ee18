import type { StrategyModule } from '../types.js';
import { normalizeOAuth, type OAuthStrategyDefinition } from './definition.js';
import { oauthEngine } from './engine.js';
import type { OAuthStrategy } from './types.js';

/** The `oauth` strategy: its definition check and its engine. */
export const oauthStrategy = {
  kind: 'oauth',
  define: (definition) => normalizeOAuth(definition),
  createEngine: oauthEngine,
} satisfies StrategyModule<OAuthStrategyDefinition, OAuthStrategy>;
