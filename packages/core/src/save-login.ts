import {
  type Credentials,
  credentialKey,
  credentialsToRecord,
  freezeCredentials,
  missingScopes,
} from './credentials.js';
import { LatchkeyError } from './errors.js';
import type { CredentialStore } from './store/types.js';
import { markMovedLogins } from './stored-logins.js';
import type { EventPayload } from './strategies/events.js';
import type { AuthProvider } from './strategies/provider.js';

/** What {@link saveLogin} needs: the new login and where it came from. */
export interface SaveLoginInput {
  readonly provider: AuthProvider;
  readonly store: CredentialStore;
  /** The credentials the sign-in gave. */
  readonly signedIn: Credentials;
  /** The scopes the sign-in asked for. */
  readonly scopes: readonly string[];
  /** The stored login the sign-in replaces, if any. */
  readonly previous?: Credentials;
  /** The account the host asked for. */
  readonly account?: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  report(event: EventPayload): void;
}

/**
 * Checks and stores the result of a sign-in, whichever way it ran (in `authenticate()` or
 * finished from a web callback). The caller holds the provider's sign-in lock.
 */
export async function saveLogin(input: SaveLoginInput): Promise<Credentials> {
  const { provider, store, signedIn, scopes, previous, account, timeoutMs, signal } = input;
  // A service that issues a refresh token only at first consent (Google) sends none on a
  // later sign-in to the same account; the one held still works, so keep it.
  const keepRefresh =
    !signedIn.refreshToken &&
    previous?.refreshToken &&
    previous.account === signedIn.account &&
    previous.providerId === signedIn.providerId;
  // What was asked for is kept with the login: reuse compares it with what is asked
  // later, so a server that grants less does not cause a sign-in on every call.
  const credentials = freezeCredentials({
    ...signedIn,
    ...(keepRefresh ? { refreshToken: previous.refreshToken } : {}),
    requestedScopes: [...scopes],
  });
  if (account !== undefined && credentials.account !== account) {
    throw new LatchkeyError(
      'ACCOUNT_MISMATCH',
      `You signed in to ${provider.name} as ${credentials.account}, but ${account} was asked for. Sign in again with that account.`,
    );
  }
  // Under the account's lock, so a refresh running for the old login cannot write over it.
  const key = credentialKey(provider.id, credentials.account);
  await store.lock(key, () => store.set(key, credentialsToRecord(credentials)), {
    timeoutMs,
    signal,
  });
  // Logins at authorization servers the MCP server no longer names are kept apart,
  // before the sign-in lock is released, so no other caller finds two current ones.
  if (credentials.engine?.kind === 'mcp') {
    await markMovedLogins(store, provider, credentials.engine.issuer, { timeoutMs, signal });
  }
  input.report({
    type: 'login_completed',
    account: credentials.account,
    scopes: credentials.scopes,
  });
  const notGranted = missingScopes(credentials.scopes, scopes, provider.scopeImplies);
  if (notGranted.length > 0) {
    input.report({ type: 'scopes_not_granted', account: credentials.account, scopes: notGranted });
  }
  return credentials;
}
