import { inspect } from 'node:util';
import {
  type Credentials,
  credentialKey,
  credentialsFromRecord,
  credentialsToRecord,
  expiresWithin,
  freezeCredentials,
  renewBy,
  sameTokens,
} from './credentials.js';
import { LatchkeyError } from './errors.js';
import { type LockOptionsWithCheck, SETTLED_WHILE_WAITING } from './store/locks.js';
import type { CredentialStore, JsonObject } from './store/types.js';
import { emit, type SignInEventListener } from './strategies/events.js';
import type { AuthProvider } from './strategies/provider.js';
import type { StrategyEngine } from './strategies/types.js';
import { listeners } from './util/listeners.js';

/** Options of {@link Session.fresh}. */
export interface FreshOptions {
  /**
   * Refresh when the access token (or a linked token) has less than this left. Default: the session's
   * refresh skew (60 s), or half the token's lifetime when that is shorter.
   */
  minValidityMs?: number;
  /** Aborts waiting for a refresh (the refresh itself still completes for other callers). */
  signal?: AbortSignal;
}

/** What {@link Session.logout} did. */
export interface LogoutResult {
  /** Whether the authorization server confirmed the revocation. */
  revoked: boolean;
  /** Why revocation failed, when it did; the local credentials are deleted anyway. */
  revocationError?: LatchkeyError;
}

/** A JSON-safe summary of a session, without secrets. */
export interface SessionSummary {
  providerId: string;
  account: string;
  scopes: readonly string[];
  expiresAt?: number;
  hasRefreshToken: boolean;
  metadata: Readonly<Record<string, string | number | boolean>>;
}

/**
 * A signed-in account at one provider, as returned by `authenticate()`. It hands out
 * fresh credentials, refreshing them ahead of expiry once at a time (across processes
 * too, through the store's lock), and tells listeners when they change.
 */
export interface Session {
  /** The provider. */
  readonly provider: AuthProvider;
  /** The account name (email, team, user id). */
  readonly account: string;
  /** The current credentials as they are, without refreshing. */
  current(): Credentials;
  /**
   * Current credentials, refreshed first when the access token expires within
   * `minValidityMs`. Concurrent calls share one refresh. Rejects with
   * `REAUTH_REQUIRED` when the login can no longer be refreshed.
   */
  fresh(options?: FreshOptions): Promise<Credentials>;
  /**
   * Signs in again for this session, asking for `scopes` on top of the ones already
   * requested (step-up), with the options `authenticate()` was given. Concurrent calls
   * share one sign-in. When the new login belongs to another account, the session
   * moves to it and the old login is removed; an MCP login whose server moved to another
   * authorization server is kept apart instead (`engine.movedTo`), never reused unless
   * asked for by account, so it can still be revoked at its own server.
   */
  reauthenticate(options?: {
    scopes?: readonly string[];
    signal?: AbortSignal;
  }): Promise<Credentials>;
  /** Refreshes now, whatever the expiry (unless another process just did). */
  refresh(options?: { signal?: AbortSignal }): Promise<Credentials>;
  /** Calls `listener` with the new credentials after every change. Returns an unsubscribe function. */
  onChange(listener: (credentials: Credentials) => void): () => void;
  /** Revokes the grant where the provider supports it (RFC 7009), then deletes the stored credentials. */
  logout(options?: { signal?: AbortSignal }): Promise<LogoutResult>;
  /** A summary without secrets; `JSON.stringify(session)` uses it. */
  toJSON(): SessionSummary;
}

/** What {@link createSession} needs. */
export interface SessionInit {
  provider: AuthProvider;
  store: CredentialStore;
  key: string;
  credentials: Credentials;
  engine: StrategyEngine;
  reauthenticate: (
    scopes: readonly string[],
    previous: Credentials,
    signal: AbortSignal | undefined,
  ) => Promise<Credentials>;
  onEvent?: SignInEventListener;
  refreshSkewMs: number;
  lockTimeoutMs: number;
}

/** How long one refresh (token request included) may take. */
const REFRESH_TIMEOUT_MS = 60_000;

function credentialKeyOf(c: Credentials): string {
  return credentialKey(c.providerId, c.account);
}

/** Whether two credentials are the same grant state: the same access and refresh tokens. */
function sameGrant(a: Credentials, b: Credentials): boolean {
  return sameTokens(a, b) && a.refreshToken?.reveal() === b.refreshToken?.reveal();
}

/** Makes a {@link Session}. */
export function createSession(init: SessionInit): Session {
  const { provider, store, refreshSkewMs } = init;

  /**
   * Puts the login under `oldKey` out of the way of `next`: an MCP login of another
   * authorization server stays (the sign-in marked it as moved); any other is deleted.
   */
  const setAside = async (oldKey: string, previous: Credentials, next: Credentials) => {
    const before = previous.engine;
    const after = next.engine;
    if (before?.kind === 'mcp' && after?.kind === 'mcp' && before.issuer !== after.issuer) return;
    await store.delete(oldKey);
  };
  let key = init.key;
  // A token that lives shorter than twice the skew is refreshed at half its lifetime,
  // not on every call.
  const skewFor = (c: Credentials): number => {
    const at = renewBy(c);
    return at === undefined ? refreshSkewMs : Math.min(refreshSkewMs, (at - c.obtainedAt) / 2);
  };
  let current = init.credentials;
  let inflight: Promise<Credentials> | undefined;
  // A refresh whose write to the store failed: its tokens (a rotated refresh token among
  // them) exist only in this process until a later call saves them.
  let unsaved: { from: Credentials; next: Credentials } | undefined;
  let saving: Promise<void> | undefined;
  let signingIn: Promise<Credentials> | undefined;
  let signingInScopes: readonly string[] = [];
  let loggedOut = false;
  const loggedOutError = () =>
    new LatchkeyError(
      'LOGIN_REQUIRED',
      `The login for ${current.account} at ${provider.name} was logged out. Sign in again with authenticate().`,
    );
  const changed = listeners<Credentials>();

  const publish = (next: Credentials) => {
    current = next;
    changed.emit(next);
  };

  const reauth = (detail: string): LatchkeyError =>
    new LatchkeyError(
      'REAUTH_REQUIRED',
      `The login for ${current.account} at ${provider.name} ${detail}. Sign in again.${provider.reauthHint ? ` ${provider.reauthHint}` : ''}`,
    );

  const emitAdopted = (c: Credentials) =>
    emit(init.onEvent, {
      type: 'credentials_adopted',
      providerId: provider.id,
      account: c.account,
    });
  const emitRefreshed = (c: Credentials) =>
    emit(init.onEvent, {
      type: 'token_refreshed',
      providerId: provider.id,
      account: c.account,
      ...(c.expiresAt !== undefined ? { expiresAt: c.expiresAt } : {}),
    });

  // Through `read` when a store's wait check hands one over (see SETTLED_WHILE_WAITING).
  const load = async (
    read: () => Promise<JsonObject | undefined> = () => store.get(key),
  ): Promise<Credentials | undefined> => {
    const record = await read();
    return record ? credentialsFromRecord(key, record) : undefined;
  };

  // Another process may have refreshed already: its result, when it is fresh enough.
  const refreshedElsewhere = (stored: Credentials, force: boolean): Credentials | undefined => {
    if (sameTokens(stored, current) || (!force && expiresWithin(stored, skewFor(stored)))) {
      return undefined;
    }
    emitAdopted(stored);
    return stored;
  };

  const refreshUnderLock = (force: boolean, signal?: AbortSignal): Promise<Credentials> =>
    store.lock(
      key,
      async () => {
        const stored = await load();
        if (!stored) throw reauth('was removed from the credential store');
        const adopted = refreshedElsewhere(stored, force);
        if (adopted) return adopted;
        // A refresh renews the grant; what the sign-in asked for stays with it.
        const keepRequested = (c: Credentials): Credentials =>
          stored.requestedScopes && !c.requestedScopes
            ? freezeCredentials({ ...c, requestedScopes: stored.requestedScopes })
            : c;
        let next: Credentials;
        try {
          // What a refresh of several tokens renewed before a later request fails is
          // kept, in the store and here, so the next refresh starts from it.
          next = await init.engine.refresh(stored, signal, async (partial) => {
            await store.set(key, credentialsToRecord(keepRequested(partial)));
            publish(keepRequested(partial));
          });
        } catch (error) {
          if (signal?.aborted) {
            throw new LatchkeyError(
              'NETWORK_ERROR',
              `Refreshing the login for ${stored.account} at ${provider.name} did not finish within ${REFRESH_TIMEOUT_MS / 1000} s. Check the network connection and try again.`,
            );
          }
          if (
            error instanceof LatchkeyError &&
            (error.code === 'INVALID_GRANT' || error.code === 'REAUTH_REQUIRED')
          ) {
            // A process that did not wait for the lock (a store without one across
            // processes, a lock taken over) may have rotated the refresh token first:
            // the login lives on in the store with its newer tokens.
            const latest = error.code === 'INVALID_GRANT' ? await load() : undefined;
            if (latest && !sameGrant(latest, stored)) {
              emitAdopted(latest);
              return latest;
            }
            await store.delete(key);
            emit(init.onEvent, {
              type: 'credentials_dropped',
              providerId: provider.id,
              account: stored.account,
              reason: 'REAUTH_REQUIRED',
            });
            if (error.code === 'REAUTH_REQUIRED') throw error;
            // A grant without a user (client credentials, JWT bearer) is asked for anew
            // by the next authenticate(); the server's reason is the useful part.
            throw init.engine.needsUser
              ? reauth('was rejected by the service (the refresh token is no longer valid)')
              : new LatchkeyError(
                  'REAUTH_REQUIRED',
                  `${error.message} The login for ${current.account} at ${provider.name} was dropped; authenticate() asks for a new grant.`,
                  { cause: error },
                );
          }
          throw error;
        }
        next = keepRequested(next);
        // Persist first: a rotated refresh token exists nowhere else.
        try {
          await store.set(key, credentialsToRecord(next));
        } catch (error) {
          unsaved = { from: stored, next };
          publish(next);
          throw unsavedError(next, error);
        }
        emitRefreshed(next);
        return next;
      },
      refreshLockOptions(force, signal),
    );

  const unsavedError = (next: Credentials, error: unknown): LatchkeyError => {
    const reason =
      error instanceof LatchkeyError ? error.message : 'The credential store failed to write it.';
    return new LatchkeyError(
      error instanceof LatchkeyError ? error.code : 'STORE_UNAVAILABLE',
      `The refreshed login for ${next.account} at ${provider.name} could not be saved. ${reason} This process keeps it and saves it on the session's next call; until then other processes hold the tokens it replaced.`,
      { cause: error },
    );
  };

  /**
   * Saves the refresh whose write failed, under the lock, when the store still holds the
   * login it replaced; when the store moved on (another sign-in, a logout), the store wins.
   */
  const saveUnsaved = (): Promise<void> => {
    saving ??= store
      .lock(
        key,
        async () => {
          const pending = unsaved;
          if (!pending) return;
          const stored = await load();
          if (stored && sameGrant(stored, pending.from)) {
            try {
              await store.set(key, credentialsToRecord(pending.next));
            } catch (error) {
              throw unsavedError(pending.next, error);
            }
            unsaved = undefined;
            emitRefreshed(pending.next);
            return;
          }
          unsaved = undefined;
          if (stored && !sameGrant(stored, current)) {
            emitAdopted(stored);
            publish(stored);
          }
        },
        // Shared by every caller, so no one caller's signal ends it.
        { timeoutMs: init.lockTimeoutMs },
      )
      .finally(() => {
        saving = undefined;
      });
    return saving;
  };

  const refreshLockOptions = (
    force: boolean,
    signal: AbortSignal | undefined,
  ): LockOptionsWithCheck<Credentials> => ({
    timeoutMs: init.lockTimeoutMs,
    ...(signal ? { signal } : {}),
    // Waiting while another process refreshes: its result, as soon as it is stored,
    // without queueing for the lock behind the other waiters.
    [SETTLED_WHILE_WAITING]: async (read) => {
      const stored = await load(read).catch(() => undefined);
      return stored ? refreshedElsewhere(stored, force) : undefined;
    },
  });

  const refresh = (force: boolean, signal?: AbortSignal): Promise<Credentials> => {
    // The shared refresh has its own bound, so one caller's abort does not cancel it for the others.
    inflight ??= refreshUnderLock(force, AbortSignal.timeout(REFRESH_TIMEOUT_MS))
      .then((next) => {
        publish(next);
        return next;
      })
      .finally(() => {
        inflight = undefined;
      });
    if (!signal) return inflight;
    return new Promise<Credentials>((resolve, reject) => {
      if (signal.aborted) {
        reject(new LatchkeyError('AUTH_CANCELLED', 'Waiting for the token refresh was cancelled.'));
        return;
      }
      const onAbort = () =>
        reject(new LatchkeyError('AUTH_CANCELLED', 'Waiting for the token refresh was cancelled.'));
      signal.addEventListener('abort', onAbort, { once: true });
      inflight?.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  };

  const summary = (): SessionSummary => ({
    providerId: provider.id,
    account: current.account,
    scopes: current.scopes,
    ...(current.expiresAt !== undefined ? { expiresAt: current.expiresAt } : {}),
    hasRefreshToken: current.refreshToken !== undefined,
    metadata: current.metadata,
  });

  const session = {
    provider,
    get account() {
      return current.account;
    },
    current: () => current,
    fresh(options?: FreshOptions): Promise<Credentials> {
      if (loggedOut) return Promise.reject(loggedOutError());
      const min = options?.minValidityMs ?? skewFor(current);
      if (unsaved) {
        // Saved first; while the store still fails, tokens that are fresh enough serve.
        return saveUnsaved().then(
          () => session.fresh(options),
          (error: unknown) => {
            if (!unsaved || expiresWithin(current, min)) throw error;
            return current;
          },
        );
      }
      if (inflight === undefined && !expiresWithin(current, min)) return Promise.resolve(current);
      return refresh(false, options?.signal);
    },
    refresh: (options?: { signal?: AbortSignal }): Promise<Credentials> => {
      if (loggedOut) return Promise.reject(loggedOutError());
      if (unsaved) return saveUnsaved().then(() => session.refresh(options));
      return refresh(true, options?.signal);
    },
    reauthenticate(options?: {
      scopes?: readonly string[];
      signal?: AbortSignal;
    }): Promise<Credentials> {
      const scopes = options?.scopes ?? [];
      // A sign-in already under way for fewer scopes is followed by one for these.
      if (signingIn && !scopes.every((s) => signingInScopes.includes(s))) {
        return signingIn.then(
          () => session.reauthenticate(options),
          () => session.reauthenticate(options),
        );
      }
      signingInScopes = scopes;
      signingIn ??= init
        .reauthenticate(scopes, current, options?.signal)
        .then(async (next) => {
          const nextKey = credentialKeyOf(next);
          if (nextKey !== key) {
            await setAside(key, current, next);
            key = nextKey;
          }
          loggedOut = false;
          unsaved = undefined;
          publish(next);
          return next;
        })
        .finally(() => {
          signingIn = undefined;
          signingInScopes = [];
        });
      return signingIn;
    },
    onChange: changed.add,
    async logout(options?: { signal?: AbortSignal }): Promise<LogoutResult> {
      return store.lock(
        key,
        async () => {
          const found = (await load()) ?? current;
          // A refresh not saved yet holds the live grant.
          const stored = unsaved && sameGrant(found, unsaved.from) ? unsaved.next : found;
          let revoked = false;
          let revocationError: LatchkeyError | undefined;
          try {
            revoked = await init.engine.revoke(stored, options?.signal);
          } catch (error) {
            revocationError =
              error instanceof LatchkeyError
                ? error
                : new LatchkeyError('TOKEN_REQUEST_FAILED', 'Revocation failed.');
          } finally {
            await store.delete(key);
            loggedOut = true;
            unsaved = undefined;
          }
          emit(init.onEvent, {
            type: 'logged_out',
            providerId: provider.id,
            account: stored.account,
            revoked,
          });
          return revocationError ? { revoked, revocationError } : { revoked };
        },
        { timeoutMs: init.lockTimeoutMs, ...(options?.signal ? { signal: options.signal } : {}) },
      );
    },
    toJSON: summary,
    [inspect.custom]: () => `Session ${JSON.stringify(summary())}`,
  };
  return session satisfies Session;
}
