import { type BrowserStrategyDefinition, normalizeBrowser } from './browser-definition.js';
import { checkFunction, fail } from './definition-checks.js';
import { normalizeOAuth, type OAuthStrategyDefinition } from './oauth-definition.js';
import type { AccountIdentity, AuthProvider, IdentifyContext } from './types.js';

export type { OAuthStrategyDefinition } from './oauth-definition.js';

/** What {@link defineProvider} takes. */
export interface ProviderDefinition {
  /** A stable id: letters, digits, `.`, `_`, `-`; at most 64 characters. */
  id: string;
  /** A display name; defaults to the id. */
  name?: string;
  /** How credentials are obtained. */
  strategy: OAuthStrategyDefinition | BrowserStrategyDefinition;
  /** Names the account the credentials belong to. */
  identify?: (context: IdentifyContext) => Promise<AccountIdentity> | AccountIdentity;
  /** A sentence added to `REAUTH_REQUIRED` messages. */
  reauthHint?: string;
}

/**
 * Checks a provider definition and returns it as a frozen {@link AuthProvider}, with
 * defaults filled in. Throws `LatchkeyError` `PROVIDER_CONFIG` naming the first bad
 * field; throws `TypeError` when the definition is not an object.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749 OAuth 2.0
 * @see https://www.rfc-editor.org/rfc/rfc8252 OAuth 2.0 for Native Apps
 */
export function defineProvider(definition: ProviderDefinition): AuthProvider {
  if (typeof definition !== 'object' || definition === null) {
    throw new TypeError('defineProvider() takes a provider definition object');
  }
  const { id, name, strategy, identify, reauthHint } = definition;
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
  const kind = (strategy as { kind?: unknown }).kind;
  if (kind !== 'oauth' && kind !== 'browser') {
    fail(
      'strategy.kind',
      `is ${JSON.stringify(kind)}; the supported kinds are "oauth" and "browser"`,
    );
  }
  if (kind === 'browser' && identify) {
    fail('identify', 'is not used by the browser strategy: name the account in strategy.validate');
  }
  return Object.freeze({
    id,
    name: name ?? id,
    strategy: Object.freeze(
      kind === 'browser'
        ? normalizeBrowser(strategy as BrowserStrategyDefinition)
        : normalizeOAuth(strategy as OAuthStrategyDefinition),
    ),
    ...(identify ? { identify } : {}),
    ...(reauthHint ? { reauthHint } : {}),
  }) satisfies AuthProvider;
}
