import { type Credentials, credentialKey, missingScopes } from './credentials.js';
import { isLatchkeyError, LatchkeyError } from './errors.js';
import type { OpenUrl } from './open-url.js';
import { saveLogin } from './save-login.js';
import { createSession, type Session } from './session.js';
import { fileStore } from './store/file-store.js';
import type { CredentialStore } from './store/types.js';
import { accountName, adoptEarlierNames, findStored } from './stored-logins.js';
import type { BrowserDriver } from './strategies/browser-driver.js';
import {
  type EventPayload,
  emit,
  type SignInEvent,
  type SignInEventListener,
} from './strategies/events.js';
import type { AuthProvider } from './strategies/provider.js';
import { createEngine } from './strategies/registry.js';
import type { Interaction, PasteCallback, SignInFlow } from './strategies/types.js';
import { deadline } from './util/abort.js';

/** Options of {@link authenticate}. */
export interface AuthenticateOptions {
  /** Where credentials are kept. Default: `fileStore()` in the user's config directory. */
  store?: CredentialStore;
  /** The account to use, when several are stored or the host knows which one it wants. */
  account?: string;
  /** Skip stored credentials and sign in again (to add another account, for example). */
  forceLogin?: boolean;
  /** `false` fails with `LOGIN_REQUIRED` instead of starting a sign-in. Default `true`. */
  interactive?: boolean;
  /**
   * How the user signs in: `loopback` (default; the browser is sent back to a listener on
   * 127.0.0.1), `device` (RFC 8628: the user approves with a code on another device), or
   * `paste` (the user pastes back the address the browser ended on; needs `paste`).
   */
  flow?: SignInFlow;
  /** Shows the authorization URL and returns the address the user pastes back (`flow: 'paste'`). */
  paste?: PasteCallback;
  /** Opens the authorization URL. Default: the system browser. */
  openUrl?: OpenUrl;
  /** Scopes to request on top of the provider's. */
  scopes?: readonly string[];
  /** How long the whole sign-in may take. Default 5 minutes. */
  timeoutMs?: number;
  /** Cancels the sign-in (`AUTH_CANCELLED`). */
  signal?: AbortSignal;
  /** Receives progress events. */
  onEvent?: SignInEventListener;
  /** The `fetch` used for every request to the authorization server. */
  fetch?: typeof fetch;
  /**
   * Opens the sign-in window for providers of the `browser` strategy: `puppeteerDriver()`
   * from `@latchkey/browser-extract`, or the host's own driver. Needed only to sign in.
   */
  browser?: BrowserDriver;
  /** How long before expiry the session refreshes. Default 60 s. */
  refreshSkewMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_SKEW_MS = 60_000;

/** Checks that `provider` is one `defineProvider()` made; `what` names the call in the `TypeError`. */
export function assertProvider(
  provider: unknown,
  what = 'authenticate()',
): asserts provider is AuthProvider {
  const p = provider as Partial<AuthProvider> | null;
  if (
    typeof p !== 'object' ||
    p === null ||
    typeof p.id !== 'string' ||
    typeof p.strategy !== 'object'
  ) {
    throw new TypeError(`${what} takes a provider made by defineProvider() or a provider package`);
  }
}

/**
 * Signs the user in to a provider and returns a {@link Session}. Stored credentials
 * are reused when they are valid or can be refreshed; otherwise the sign-in runs (a
 * browser opens once), the account is identified, and the credentials are stored.
 * Only one sign-in per provider runs at a time, across processes sharing the store.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749 OAuth 2.0
 * @see https://www.rfc-editor.org/rfc/rfc7636 PKCE
 * @see https://www.rfc-editor.org/rfc/rfc8252 OAuth 2.0 for Native Apps
 */
export async function authenticate(
  provider: AuthProvider,
  options: AuthenticateOptions = {},
): Promise<Session> {
  assertProvider(provider);
  if (options.flow === 'paste' && typeof options.paste !== 'function') {
    throw new TypeError('flow "paste" needs a paste callback');
  }
  const store = options.store ?? fileStore();
  await adoptEarlierNames(store, provider);
  const account = accountName(provider, options.account);
  const refreshSkewMs = options.refreshSkewMs ?? DEFAULT_SKEW_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const wanted = [...new Set([...provider.strategy.scopes, ...(options.scopes ?? [])])];
  const d = deadline(timeoutMs, options.signal);

  const interaction: Interaction = {
    ...(account !== undefined ? { account } : {}),
    ...(options.flow !== undefined ? { flow: options.flow } : {}),
    ...(options.paste !== undefined ? { paste: options.paste } : {}),
    ...(options.openUrl !== undefined ? { openUrl: options.openUrl } : {}),
    ...(options.browser !== undefined ? { browser: options.browser } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  };
  const report = (event: EventPayload) =>
    emit(options.onEvent, { ...event, providerId: provider.id } as SignInEvent);
  const engine = createEngine(provider, {
    store,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    emit: report,
  });
  // Signs in (the caller holds the login lock), checks the account, and stores the result.
  const signInAndStore = async (
    scopes: readonly string[],
    previous: Credentials | undefined,
    signal: AbortSignal,
  ): Promise<Credentials> => {
    const signedIn = await engine.signIn({
      interaction,
      scopes,
      ...(previous ? { previous } : {}),
      signal,
      emit: report,
    });
    return saveLogin({
      provider,
      store,
      signedIn,
      scopes,
      ...(previous ? { previous } : {}),
      ...(account !== undefined ? { account } : {}),
      timeoutMs,
      signal,
      report,
    });
  };
  const loginRequired = (stored = false) =>
    new LatchkeyError(
      'LOGIN_REQUIRED',
      stored
        ? `The ${provider.name} login must be renewed by signing in, and this session was created with interactive: false. Call authenticate() interactively.`
        : `No usable ${provider.name} login is stored${account ? ` for ${account}` : ''}. Sign in interactively first.`,
    );
  // A later sign-in for a session (step-up, a revoked grant): same options, new deadline.
  const reauthenticate = async (
    scopes: readonly string[],
    previous: Credentials,
    signal: AbortSignal | undefined,
  ): Promise<Credentials> => {
    if (options.interactive === false && engine.needsUser) throw loginRequired(true);
    const again = deadline(timeoutMs, signal);
    try {
      return await store.lock(
        `login/${provider.id}`,
        () => signInAndStore([...new Set([...wanted, ...scopes])], previous, again.signal),
        { timeoutMs, signal: again.signal },
      );
    } catch (error) {
      if (again.signal.aborted) throw again.error(`Sign-in to ${provider.name}`);
      throw error;
    } finally {
      again.dispose();
    }
  };
  const sessionFor = (credentials: Credentials) =>
    createSession({
      provider,
      store,
      key: credentialKey(provider.id, credentials.account),
      credentials,
      engine,
      reauthenticate,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      refreshSkewMs,
      lockTimeoutMs: 30_000,
    });

  // The scopes asked for now that the stored login was not asked for (or, for a login
  // stored without that record, was not granted).
  const unasked = (found: Credentials): string[] =>
    missingScopes(found.requestedScopes ?? found.scopes, wanted, provider.scopeImplies);

  // A stored login that covers the scopes, made valid (refreshed if needed); none when
  // only a new sign-in can help.
  const reuse = async (found: Credentials | undefined): Promise<Session | undefined> => {
    if (!found || unasked(found).length > 0) return undefined;
    const session = sessionFor(found);
    try {
      await session.fresh({ signal: d.signal });
    } catch (error) {
      if (isLatchkeyError(error, 'REAUTH_REQUIRED')) return undefined;
      throw error;
    }
    emit(options.onEvent, {
      type: 'credentials_reused',
      providerId: provider.id,
      account: found.account,
    });
    return session;
  };

  try {
    const stored = options.forceLogin ? undefined : await findStored(store, provider, account);
    const reused = await reuse(stored);
    if (reused) return reused;
    if (options.interactive === false && engine.needsUser) {
      const missing = stored ? unasked(stored) : [];
      if (stored && missing.length > 0) {
        throw new LatchkeyError(
          'LOGIN_REQUIRED',
          `The stored ${provider.name} login for ${stored.account} was not asked for ${missing.map((s) => `"${s}"`).join(', ')}, which this call needs, and interactive: false forbids a sign-in. Call authenticate() interactively to grant ${missing.length > 1 ? 'them' : 'it'}.`,
        );
      }
      throw loginRequired();
    }
    return await store.lock(
      `login/${provider.id}`,
      async () => {
        // Another process may have finished a sign-in while this one waited.
        if (!options.forceLogin) {
          const again = await reuse(await findStored(store, provider, account));
          if (again) return again;
        }
        const credentials = await signInAndStore(wanted, stored, d.signal);
        return sessionFor(credentials);
      },
      { timeoutMs, signal: d.signal },
    );
  } catch (error) {
    if (d.signal.aborted) throw d.error(`Sign-in to ${provider.name}`);
    throw error;
  } finally {
    d.dispose();
  }
}
