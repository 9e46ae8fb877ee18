import { createHash } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { assertProvider } from './authenticate.js';
import { credentialKey } from './credentials.js';
import { LatchkeyError } from './errors.js';
import { saveLogin } from './save-login.js';
import { createSession, type Session } from './session.js';
import type { CredentialStore, JsonObject } from './store/types.js';
import { assertUserId, userStore } from './store/user-store.js';
import { accountName, findStored } from './stored-logins.js';
import {
  type EventPayload,
  emit,
  type SignInEvent,
  type SignInEventListener,
} from './strategies/events.js';
import type { AuthProvider } from './strategies/provider.js';
import { createEngine } from './strategies/registry.js';
import type { StrategyEngine } from './strategies/types.js';
import { deadline } from './util/abort.js';
import { isLoopbackRedirect, parseUrl } from './util/url.js';

/** Options of {@link startSignIn}. */
export interface StartSignInOptions {
  /** The store shared by every user; the pending sign-in is kept in the user's part of it. */
  store: CredentialStore;
  /** The host's id for the user signing in: the sign-in can be finished for this user only. */
  user: string;
  /**
   * The host's redirect URI, registered with the provider: `https://…/callback`, or
   * `http://` on a loopback host for development. The callback must arrive there.
   */
  redirectUri: string;
  /** The account to ask for (a login hint, where the provider takes one); checked at the end. */
  account?: string;
  /** Scopes to request on top of the provider's. */
  scopes?: readonly string[];
  /** How long the sign-in may be finished for. Default 10 minutes; 30 s to 1 hour. */
  expiresInMs?: number;
  /** How long discovery, registration and a pushed request may take. Default 30 s. */
  timeoutMs?: number;
  /** Cancels the start (`AUTH_CANCELLED`). */
  signal?: AbortSignal;
  /** Receives progress events. */
  onEvent?: SignInEventListener;
  /** The `fetch` used for every request to the authorization server. */
  fetch?: typeof fetch;
}

/** A started web sign-in. */
export interface StartedSignIn {
  /** The authorization URL: redirect the user's browser to it. */
  readonly url: string;
  /** When the pending sign-in expires (epoch ms); a later callback fails with `SIGN_IN_EXPIRED`. */
  readonly expiresAt: number;
}

/** Options of {@link finishSignIn}. */
export interface FinishSignInOptions {
  /** The same store {@link startSignIn} was given. */
  store: CredentialStore;
  /** The host's id for the user whose browser brought the callback (from the host's own session). */
  user: string;
  /**
   * The URL the browser was sent back to, with its query: absolute, or the path and query
   * alone as a request line gives it (Node's `request.url`), resolved against the redirect URI.
   */
  callbackUrl: string | URL;
  /** How long the code exchange and identification may take. Default 30 s. */
  timeoutMs?: number;
  /** Cancels the finish (`AUTH_CANCELLED`). */
  signal?: AbortSignal;
  /** Receives progress events, here and from the returned session. */
  onEvent?: SignInEventListener;
  /** The `fetch` used for every request to the authorization server. */
  fetch?: typeof fetch;
  /** How long before expiry the session refreshes. Default 60 s. */
  refreshSkewMs?: number;
}

const DEFAULT_EXPIRY_MS = 10 * 60_000;
const MIN_EXPIRY_MS = 30_000;
const MAX_EXPIRY_MS = 60 * 60_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_SKEW_MS = 60_000;
/** Pending sign-ins kept per user; starting another removes the oldest. */
const MAX_PENDING = 20;
const PENDING_PREFIX = 'signin/';
const PENDING_KIND = 'latchkey-web-sign-in';

function assertOptions(options: unknown, what: string): void {
  const o = options as { store?: Partial<CredentialStore>; user?: unknown } | null;
  if (typeof o !== 'object' || o === null) throw new TypeError(`${what} needs an options object`);
  if (typeof o.store?.get !== 'function' || typeof o.store.lock !== 'function') {
    throw new TypeError(`${what} needs options.store, a CredentialStore`);
  }
  assertUserId(o.user, `${what} needs options.user, the host's id for the user`);
}

/** Checks a redirect URI the way RFC 6749 §3.1.2 and RFC 8252 §8.3 ask. */
function checkRedirectUri(value: unknown): URL {
  const url = typeof value === 'string' ? parseUrl(value) : undefined;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hash !== '') {
    throw new TypeError(
      'startSignIn() needs options.redirectUri, the absolute https:// URL registered with the provider, without a fragment',
    );
  }
  if (url.protocol === 'http:' && !isLoopbackRedirect(url)) {
    throw new LatchkeyError(
      'INSECURE_ENDPOINT',
      `The redirect URI ${url.origin}${url.pathname} uses plain http on a host that is not loopback, so the authorization code would cross the network in clear. Use https.`,
    );
  }
  return url;
}

function checkExpiry(value: unknown): number {
  if (value === undefined) return DEFAULT_EXPIRY_MS;
  if (typeof value !== 'number' || !(value >= MIN_EXPIRY_MS && value <= MAX_EXPIRY_MS)) {
    throw new TypeError(
      'startSignIn() option expiresInMs must be between 30000 (30 s) and 3600000 (1 hour)',
    );
  }
  return value;
}

/** The store key of the pending sign-in with this `state`: a digest, so the key does not carry it. */
function pendingKey(state: string): string {
  return `${PENDING_PREFIX}${createHash('sha256').update(state, 'utf8').digest('base64url')}`;
}

/** The fields every pending sign-in has, as {@link startSignIn} wrote them. */
interface Pending {
  providerId: string;
  expiresAt: number;
  createdAt: number;
  redirectUri: string;
  scopes: string[];
  account?: string;
  engine: JsonObject;
}

function readPending(value: JsonObject): Pending | undefined {
  const { kind, providerId, expiresAt, createdAt, redirectUri, scopes, account, engine } = value;
  if (
    kind !== PENDING_KIND ||
    typeof providerId !== 'string' ||
    typeof expiresAt !== 'number' ||
    typeof createdAt !== 'number' ||
    typeof redirectUri !== 'string' ||
    !Array.isArray(scopes) ||
    !scopes.every((s) => typeof s === 'string') ||
    (account !== undefined && typeof account !== 'string') ||
    typeof engine !== 'object' ||
    engine === null ||
    Array.isArray(engine)
  ) {
    return undefined;
  }
  return {
    providerId,
    expiresAt,
    createdAt,
    redirectUri,
    scopes: scopes as string[],
    ...(account !== undefined ? { account } : {}),
    engine,
  };
}

/** Removes the user's expired pending sign-ins, and the oldest beyond {@link MAX_PENDING}. */
async function prunePending(store: CredentialStore, now: number): Promise<void> {
  const kept: { key: string; createdAt: number }[] = [];
  for (const key of await store.list(PENDING_PREFIX)) {
    const value = await store.get(key);
    const pending = value ? readPending(value) : undefined;
    if (!pending || pending.expiresAt <= now) await store.delete(key);
    else kept.push({ key, createdAt: pending.createdAt });
  }
  kept.sort((a, b) => a.createdAt - b.createdAt);
  for (const { key } of kept.slice(0, Math.max(0, kept.length - MAX_PENDING + 1))) {
    await store.delete(key);
  }
}

function redirectEngine(provider: AuthProvider, engine: StrategyEngine) {
  const { startRedirect, finishRedirect } = engine;
  if (!startRedirect || !finishRedirect) {
    throw new LatchkeyError(
      'STRATEGY_UNSUPPORTED',
      `${provider.name} signs in with the ${provider.strategy.kind} strategy, which needs a browser on the user's own machine, so it cannot sign in through a web redirect. Use authenticate() in a desktop app for it.`,
    );
  }
  return { startRedirect, finishRedirect };
}

/**
 * Starts a sign-in for one of the host's users that comes back to the host's own
 * redirect URI, for web apps: returns the authorization URL to redirect the browser to.
 * What finishing needs (the PKCE verifier, `state`, the metadata, the client and the
 * scopes) is kept in `store` under the user, for `expiresInMs`, so that
 * {@link finishSignIn} can finish it on any instance that shares the store, once.
 * Works for the `oauth` and `mcp` strategies; `browser` fails with `STRATEGY_UNSUPPORTED`.
 *
 * @example
 * ```ts
 * import { startSignIn } from '@latchkey/core';
 *
 * const { url } = await startSignIn(provider, {
 *   store,
 *   user: 'user-42',
 *   redirectUri: 'https://app.example.com/callback/example',
 * });
 * // Answer the browser with a redirect to `url`.
 * ```
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1 Authorization Code Grant
 * @see https://www.rfc-editor.org/rfc/rfc7636 PKCE
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.7 CSRF protection (OAuth 2.0 Security BCP)
 */
export async function startSignIn(
  provider: AuthProvider,
  options: StartSignInOptions,
): Promise<StartedSignIn> {
  assertProvider(provider, 'startSignIn()');
  assertOptions(options, 'startSignIn()');
  const redirectUri = checkRedirectUri(options.redirectUri).href;
  const expiresInMs = checkExpiry(options.expiresInMs);
  const store = userStore(options.store, options.user);
  const account = accountName(provider, options.account);
  const report = (event: EventPayload) =>
    emit(options.onEvent, { ...event, providerId: provider.id } as SignInEvent);
  const engine = redirectEngine(
    provider,
    createEngine(provider, {
      store,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      emit: report,
    }),
  );
  const scopes = [...new Set([...provider.strategy.scopes, ...(options.scopes ?? [])])];
  const d = deadline(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.signal);
  try {
    const previous = account === undefined ? undefined : await findStored(store, provider, account);
    const state = oauth.generateRandomState();
    const started = await engine.startRedirect({
      redirectUri,
      state,
      scopes,
      ...(account !== undefined ? { account } : {}),
      hasRefreshToken: previous?.refreshToken !== undefined,
      signal: d.signal,
    });
    const createdAt = Date.now();
    await prunePending(store, createdAt);
    const expiresAt = createdAt + expiresInMs;
    await store.set(pendingKey(state), {
      kind: PENDING_KIND,
      providerId: provider.id,
      createdAt,
      expiresAt,
      redirectUri,
      scopes,
      ...(account !== undefined ? { account } : {}),
      engine: started.pending,
    });
    return Object.freeze({ url: started.url, expiresAt });
  } catch (error) {
    if (d.signal.aborted) throw d.error(`Starting the sign-in to ${provider.name}`);
    throw error;
  } finally {
    d.dispose();
  }
}

/** The callback as a URL, and its `state`; a relative one is resolved later. */
function parseCallback(value: unknown): { url: URL; relative: boolean } {
  const text = value instanceof URL ? value.href : value;
  if (typeof text !== 'string') {
    throw new TypeError(
      'finishSignIn() needs options.callbackUrl, the URL the browser came back to',
    );
  }
  const absolute = parseUrl(text);
  if (absolute) return { url: absolute, relative: false };
  if (
    text.startsWith('/') &&
    !text.startsWith('//') &&
    URL.canParse(text, 'https://callback.invalid')
  ) {
    return { url: new URL(text, 'https://callback.invalid'), relative: true };
  }
  throw new LatchkeyError(
    'CALLBACK_INVALID',
    'The callback URL is neither an absolute URL nor a path with a query. Pass the URL the browser was sent back to.',
  );
}

const noPendingSignIn = () =>
  new LatchkeyError(
    'STATE_MISMATCH',
    'No sign-in of this user is waiting for this callback: it was finished already, started for another user, or never started. Nothing was changed. Start the sign-in again.',
  );

/**
 * Finishes a sign-in begun with {@link startSignIn}, from the callback URL the host's
 * redirect URI received, on any instance that shares the store: checks that a sign-in
 * with the callback's `state` is pending for this `user` and has not expired, uses it up
 * (a second callback with the same `state` fails), redeems the code, identifies the
 * account, stores the login under the user and returns its {@link Session}. Later
 * requests get the session with `authenticate(provider, { store: userStore(store, user),
 * interactive: false })`.
 *
 * A callback for another user, replayed, forged or without `state` fails with
 * `STATE_MISMATCH`; an expired one with `SIGN_IN_EXPIRED`; one for a provider not given
 * or at another address than the redirect URI with `CALLBACK_INVALID`. None of them
 * changes a stored login.
 *
 * @example
 * ```ts
 * import { finishSignIn } from '@latchkey/core';
 *
 * // In the callback route, with the user taken from the app's own session cookie:
 * const session = await finishSignIn(provider, { store, user: 'user-42', callbackUrl: request.url });
 * // session.account names the account the user connected.
 * ```
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2 Authorization Response
 * @see https://www.rfc-editor.org/rfc/rfc9207 Authorization Server Issuer Identification
 */
export async function finishSignIn(
  provider: AuthProvider | readonly AuthProvider[],
  options: FinishSignInOptions,
): Promise<Session> {
  const providers: readonly AuthProvider[] = Array.isArray(provider) ? provider : [provider];
  if (providers.length === 0) throw new TypeError('finishSignIn() needs at least one provider');
  for (const p of providers) assertProvider(p, 'finishSignIn()');
  assertOptions(options, 'finishSignIn()');
  const callback = parseCallback(options.callbackUrl);
  const store = userStore(options.store, options.user);
  const state = callback.url.searchParams.get('state');
  if (state === null || state === '') throw noPendingSignIn();
  const key = pendingKey(state);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const d = deadline(timeoutMs, options.signal);
  let name = providers.length === 1 ? (providers[0] as AuthProvider).name : 'the provider';
  try {
    // Taken out of the store under its lock, so that only one callback can use it.
    const { pending, target, url } = await store.lock(
      key,
      async () => {
        const value = await store.get(key);
        if (!value) throw noPendingSignIn();
        const found = readPending(value);
        if (!found) {
          throw new LatchkeyError(
            'STORE_CORRUPT',
            'The pending sign-in kept in the credential store cannot be read, so it was left as it is. Start the sign-in again.',
          );
        }
        const match = providers.find((p) => p.id === found.providerId);
        if (!match) {
          throw new LatchkeyError(
            'CALLBACK_INVALID',
            `This callback belongs to a sign-in to the provider "${found.providerId}", which finishSignIn() was not given, so it was left pending. Pass that provider.`,
          );
        }
        if (found.expiresAt <= Date.now()) {
          await store.delete(key);
          throw new LatchkeyError(
            'SIGN_IN_EXPIRED',
            `The sign-in to ${match.name} was not finished within the time it was started for, so it expired. Start it again.`,
          );
        }
        const expected = new URL(found.redirectUri);
        const resolved = callback.relative
          ? new URL(`${callback.url.pathname}${callback.url.search}`, expected)
          : callback.url;
        if (resolved.origin !== expected.origin || resolved.pathname !== expected.pathname) {
          throw new LatchkeyError(
            'CALLBACK_INVALID',
            `The callback arrived at ${resolved.origin}${resolved.pathname}, not at the redirect URI ${expected.origin}${expected.pathname} the sign-in was started with, so it was left pending.`,
          );
        }
        await store.delete(key);
        return { pending: found, target: match, url: resolved };
      },
      { timeoutMs, signal: d.signal },
    );
    name = target.name;
    const report = (event: EventPayload) =>
      emit(options.onEvent, { ...event, providerId: target.id } as SignInEvent);
    const created = createEngine(target, {
      store,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      emit: report,
    });
    const engine = redirectEngine(target, created);
    report({ type: 'callback_received' });
    const signedIn = await engine.finishRedirect(pending.engine, url, state, d.signal);
    const credentials = await store.lock(
      `login/${target.id}`,
      async () => {
        const previous = await findStored(store, target, signedIn.account);
        return saveLogin({
          provider: target,
          store,
          signedIn,
          scopes: pending.scopes,
          ...(previous ? { previous } : {}),
          ...(pending.account !== undefined ? { account: pending.account } : {}),
          timeoutMs,
          signal: d.signal,
          report,
        });
      },
      { timeoutMs, signal: d.signal },
    );
    return createSession({
      provider: target,
      store,
      key: credentialKey(target.id, credentials.account),
      credentials,
      engine: created,
      // A web app signs the user in again through its own pages, not from inside a call.
      reauthenticate: async () => {
        throw new LatchkeyError(
          'LOGIN_REQUIRED',
          `The ${target.name} login of this user must be renewed by signing in again. Send the user through startSignIn() once more.`,
        );
      },
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      refreshSkewMs: options.refreshSkewMs ?? DEFAULT_SKEW_MS,
      lockTimeoutMs: 30_000,
    });
  } catch (error) {
    if (d.signal.aborted) throw d.error(`Finishing the sign-in to ${name}`);
    throw error;
  } finally {
    d.dispose();
  }
}
