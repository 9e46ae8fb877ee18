import { fail } from '../definition-checks.js';
import type { StrategyModule } from '../types.js';
import { type McpStrategyDefinition, normalizeMcp } from './definition.js';
import { mcpEngine } from './engine.js';
import type { McpStrategy } from './types.js';

/** The `mcp` strategy: its definition check and its engine. */
export const mcpStrategy = {
  kind: 'mcp',
  define(definition, context) {
    if (context.hasIdentify) {
      fail(
        'identify',
        'is not used by the mcp strategy: a login is named by its authorization server',
      );
    }
    return normalizeMcp(definition);
  },
  createEngine: mcpEngine,
} satisfies StrategyModule<McpStrategyDefinition, McpStrategy>;
