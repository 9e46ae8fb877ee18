import type { BrowserStrategyDefinition } from './browser/definition.js';
import type { AccountIdentity, IdentifyContext } from './common-types.js';
import { checkFunction, fail } from './definition-checks.js';
import type { McpStrategyDefinition } from './mcp/definition.js';
import type { OAuthStrategyDefinition } from './oauth/definition.js';
import type { AuthProvider } from './provider.js';
import { STRATEGY_KINDS, strategyModule } from './registry.js';

/** What {@link defineProvider} takes. */
export interface ProviderDefinition {
  /** A stable id: letters, digits, `.`, `_`, `-`; at most 64 characters. */
  id: string;
  /** A display name; defaults to the id. */
  name?: string;
  /** How credentials are obtained. */
  strategy: OAuthStrategyDefinition | McpStrategyDefinition | BrowserStrategyDefinition;
  /** Names the account the credentials belong to (`oauth` strategy). */
  identify?: (context: IdentifyContext) => Promise<AccountIdentity> | AccountIdentity;
  /** A sentence added to `REAUTH_REQUIRED` messages. */
  reauthHint?: string;
  /** Which scopes a wider scope includes: `{ [wide]: [narrower, ...] }`. */
  scopeImplies?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Checks a provider definition and returns it as a frozen {@link AuthProvider}, with
 * defaults filled in. The strategy is checked by its kind's own rules. Throws
 * `LatchkeyError` `PROVIDER_CONFIG` naming the first bad field; throws `TypeError` when
 * the definition is not an object.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749 OAuth 2.0
 * @see https://www.rfc-editor.org/rfc/rfc8252 OAuth 2.0 for Native Apps
 */
export function defineProvider(definition: ProviderDefinition): AuthProvider {
  if (typeof definition !== 'object' || definition === null) {
    throw new TypeError('defineProvider() takes a provider definition object');
  }
  const { id, name, strategy, identify, reauthHint, scopeImplies } = definition;
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) {
    fail('id', 'must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    fail('name', 'must be a non-empty string');
  }
  if (typeof strategy !== 'object' || strategy === null) fail('strategy', 'is required');
  checkFunction('identify', identify);
  if (reauthHint !== undefined && typeof reauthHint !== 'string')
    fail('reauthHint', 'must be a string');
  const implies = checkScopeImplies(scopeImplies);
  const kind = (strategy as { kind?: unknown }).kind;
  const module = strategyModule(kind);
  if (!module) {
    fail(
      'strategy.kind',
      `is ${JSON.stringify(kind)}; the supported kinds are ${STRATEGY_KINDS.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  return Object.freeze({
    id,
    name: name ?? id,
    strategy: Object.freeze(
      module.define(strategy as never, { hasIdentify: identify !== undefined }),
    ),
    ...(identify ? { identify } : {}),
    ...(reauthHint ? { reauthHint } : {}),
    ...(implies ? { scopeImplies: implies } : {}),
  }) satisfies AuthProvider;
}

function checkScopeImplies(
  value: ProviderDefinition['scopeImplies'],
): Readonly<Record<string, readonly string[]>> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('scopeImplies', 'must be an object from a scope to the scopes it includes');
  }
  const checked: Record<string, readonly string[]> = {};
  for (const [wide, narrower] of Object.entries(value)) {
    if (!Array.isArray(narrower) || !narrower.every((s) => typeof s === 'string' && s !== '')) {
      fail(`scopeImplies.${wide}`, 'must be an array of scope names');
    }
    checked[wide] = Object.freeze([...narrower]);
  }
  return Object.freeze(checked);
}
