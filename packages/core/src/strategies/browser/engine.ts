import { freezeCredentials } from '../../credentials.js';
import { LatchkeyError } from '../../errors.js';
import type { ProviderOf } from '../common-types.js';
import type { EngineOptions, StrategyEngine } from '../types.js';
import { runBrowserSignIn } from './sign-in.js';
import type { BrowserStrategy } from './types.js';

/**
 * The engine of the `browser` strategy: the user logs in in a browser window opened by
 * the host's `BrowserDriver` (`authenticate()`'s `browser` option), and the session
 * is read from the page. A browser session cannot be renewed without the user, and
 * there is nothing to revoke at the service.
 */
export function browserEngine(
  provider: ProviderOf<BrowserStrategy>,
  options: EngineOptions,
): StrategyEngine {
  return {
    needsUser: true,
    async signIn(request) {
      const host = request.interaction;
      const driver = host.browser;
      if (typeof driver?.open !== 'function') {
        throw new TypeError(
          `${provider.name} signs in through a browser: pass authenticate() a browser option (puppeteerDriver() from @latchkey/browser-extract, or your own BrowserDriver)`,
        );
      }
      if (request.scopes.length > 0) {
        throw new TypeError(
          `${provider.name} signs in through a browser and has no scopes: do not pass the scopes option`,
        );
      }
      // The profile the last login used (recorded below), so a persistent profile is
      // reused even when that first login named no account.
      const previous = request.previous;
      const recorded = previous?.engine?.kind === 'browser' ? previous.engine.profile : undefined;
      const profileAccount =
        host.account ?? (recorded !== undefined ? recorded || undefined : previous?.account);
      const credentials = await runBrowserSignIn(provider, {
        driver,
        ...(host.account !== undefined ? { account: host.account } : {}),
        ...(profileAccount !== undefined ? { profileAccount } : {}),
        ...(host.timeoutMs !== undefined ? { timeoutMs: host.timeoutMs } : {}),
        signal: request.signal,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        emit: request.emit,
      });
      return freezeCredentials({
        ...credentials,
        engine: { kind: 'browser', profile: profileAccount ?? '' },
      });
    },
    async refresh(current) {
      throw new LatchkeyError(
        'REAUTH_REQUIRED',
        `The ${provider.name} browser login for ${current.account} has expired or stopped working, and only a new login in the browser can renew it. Sign in again.${provider.reauthHint ? ` ${provider.reauthHint}` : ''}`,
      );
    },
    async revoke() {
      return false;
    },
  };
}
