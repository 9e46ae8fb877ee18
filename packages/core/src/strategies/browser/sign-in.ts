import { createHash } from 'node:crypto';
import { type Credentials, freezeCredentials } from '../../credentials.js';
import { isLatchkeyError, LatchkeyError } from '../../errors.js';
import { maskSecrets, type Secret, secret } from '../../secret.js';
import { deadline, raceAbort } from '../../util/abort.js';
import type { BrowserActivity, BrowserDriver, BrowserWindow } from '../browser-driver.js';
import type { AccountIdentity, ProviderOf, StrategyBase } from '../common-types.js';
import { type EventPayload, emit, type SignInEvent, type SignInEventListener } from '../events.js';
import { navigationAllowed, originOf } from './allowlist.js';
import type { BrowserStrategy, Extraction, PartialExtraction } from './types.js';

/** How long closing the window may take before the sign-in goes on without it. */
const CLOSE_TIMEOUT_MS = 15_000;

/** How long one read of the page may take before it is given up and tried again. */
const READ_TIMEOUT_MS = 10_000;

/** Options of {@link signInWithBrowser}. */
export interface BrowserSignInOptions {
  /** Opens the sign-in window. */
  driver: BrowserDriver;
  /** The account to sign in to (to pick among several the page holds). */
  account?: string;
  /** The account whose persistent browser profile to use, when it differs from `account`. */
  profileAccount?: string;
  /** A limit shorter than the strategy's `timeoutMs`. */
  timeoutMs?: number;
  /** Cancels the sign-in (`AUTH_CANCELLED`); the window is closed. */
  signal?: AbortSignal;
  /** Receives progress events. */
  onEvent?: SignInEventListener;
  /** The `fetch` given to the strategy's `validate` hook. */
  fetch?: typeof fetch;
}

/** {@link BrowserSignInOptions} as `authenticate()`'s engine passes them. */
export interface BrowserSignInSettings extends Omit<BrowserSignInOptions, 'onEvent'> {
  /** Reports progress (the provider id is added by the caller). */
  emit(event: EventPayload): void;
}

/** Waiting for the login; part of the session found; a session found but rejected. */
type LoopState = 'waiting' | 'partial' | 'rejected';

function strategyOf(provider: ProviderOf<StrategyBase>): BrowserStrategy {
  if (provider.strategy.kind !== 'browser') {
    throw new TypeError(`${provider.name} does not sign in through a browser`);
  }
  return provider.strategy as BrowserStrategy;
}

function fingerprint(accessToken: Secret, secrets: Readonly<Record<string, Secret>>): string {
  const values = [accessToken.reveal(), ...Object.keys(secrets).sort()].concat(
    Object.keys(secrets)
      .sort()
      .map((k) => (secrets[k] as Secret).reveal()),
  );
  return createHash('sha256').update(JSON.stringify(values)).digest('hex');
}

function isPartial(value: Extraction | PartialExtraction): value is PartialExtraction {
  return Array.isArray((value as PartialExtraction).missing);
}

async function openWindow(
  driver: BrowserDriver,
  request: Parameters<BrowserDriver['open']>[0],
): Promise<BrowserWindow> {
  const opening = Promise.resolve().then(() => driver.open(request));
  try {
    return await raceAbort(opening, request.signal);
  } catch (error) {
    // A window that opens after the sign-in was given up is closed at once.
    opening.then((window) => window.close()).catch(() => {});
    if (request.signal.aborted || isLatchkeyError(error)) throw error;
    throw new LatchkeyError(
      'BROWSER_LAUNCH_FAILED',
      'The sign-in browser could not be opened. Check that the browser starts on this machine.',
      { cause: error instanceof Error ? new Error(error.message) : undefined },
    );
  }
}

async function closeWindow(window: BrowserWindow): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.resolve()
      .then(() => window.close())
      .catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * Runs a browser sign-in for a provider of the `browser` strategy and returns the
 * credentials, without storing them: opens the window through the driver, reads the
 * page after every navigation, route change, storage write and response that sets
 * cookies (and on a short poll) until the extractor finds the whole session, checks it
 * with the provider's `validate`, and closes the window on every path.
 * `authenticate()` runs this and stores the result.
 */
export function signInWithBrowser(
  provider: ProviderOf<StrategyBase>,
  options: BrowserSignInOptions,
): Promise<Credentials> {
  const { onEvent, ...rest } = options;
  return runBrowserSignIn(provider, {
    ...rest,
    emit: (event) => emit(onEvent, { ...event, providerId: provider.id } as SignInEvent),
  });
}

/** {@link signInWithBrowser} with an event reporter instead of a listener. */
export async function runBrowserSignIn(
  provider: ProviderOf<StrategyBase>,
  settings: BrowserSignInSettings,
): Promise<Credentials> {
  const strategy = strategyOf(provider);
  if (typeof settings.driver?.open !== 'function') {
    throw new TypeError(
      `${provider.name} signs in through a browser: pass a browser driver (puppeteerDriver() from @latchkey/browser-extract, or your own BrowserDriver)`,
    );
  }
  const limit = Math.min(strategy.timeoutMs, settings.timeoutMs ?? Infinity);
  const d = deadline(limit, settings.signal);
  const signal = d.signal;
  const fetchImpl = settings.fetch ?? globalThis.fetch;
  const what = `Signing in to ${provider.name} in the browser`;

  // What the driver reports wakes the loop; `closed` ends it.
  let dirty = true;
  let closed = false;
  const closing = new AbortController();
  let lastNavigationAt = Date.now();
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let finished = false;
  const report = (activity: BrowserActivity) => {
    // A driver may still report while, or after, the window closes: the sign-in is over.
    if (finished) return;
    switch (activity?.type) {
      case 'navigated':
        lastNavigationAt = Date.now();
        dirty = true;
        break;
      case 'storage_changed':
      case 'cookies_changed':
        dirty = true;
        break;
      case 'navigation_blocked':
        settings.emit({ type: 'navigation_blocked', origin: originOf(activity.url) });
        return;
      case 'closed':
        closed = true;
        closing.abort();
        break;
      default:
        return;
    }
    poke();
  };
  const waitForActivity = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        wake = undefined;
        if (signal.aborted) reject(signal.reason);
        else resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      wake = done;
    });
  const cancelled = () =>
    new LatchkeyError(
      'AUTH_CANCELLED',
      `The ${provider.name} sign-in window was closed before the login completed. Start again and finish logging in.`,
    );

  let state: LoopState = 'waiting';
  let missing: readonly string[] = [];
  const incomplete = (): LatchkeyError =>
    state === 'partial'
      ? new LatchkeyError(
          'EXTRACTION_FAILED',
          `${what} found only part of the session: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing. Finish logging in and try again; if it keeps happening, the provider's extraction rules may be out of date.`,
        )
      : new LatchkeyError(
          'INVALID_CREDENTIALS',
          `${provider.name} rejected the session found after sign-in. Sign in again; if it keeps happening, the provider may need an update.`,
        );

  let window: BrowserWindow | undefined;
  try {
    window = await openWindow(settings.driver, {
      url: strategy.startUrl,
      providerId: provider.id,
      ...((settings.profileAccount ?? settings.account) !== undefined
        ? { account: (settings.profileAccount ?? settings.account) as string }
        : {}),
      allowNavigation: (url) => navigationAllowed(url, strategy.allowedHosts),
      report,
      signal,
    });
    settings.emit({ type: 'browser_opened', origin: originOf(strategy.startUrl) });
    const page = window.page;
    // Reads of the page end early when the window closes, and time out when it hangs.
    const read = <T>(run: () => Promise<T> | T): Promise<T> =>
      raceAbort(
        Promise.resolve().then(run),
        AbortSignal.any([signal, closing.signal, AbortSignal.timeout(READ_TIMEOUT_MS)]),
      );
    let userAgent: string;
    try {
      userAgent = await read(() => page.userAgent());
    } catch (error) {
      if (signal.aborted || isLatchkeyError(error)) throw error;
      if (closed) throw cancelled();
      throw new LatchkeyError(
        'BROWSER_LAUNCH_FAILED',
        'The sign-in browser opened but does not answer. Close it and try again.',
        { cause: error instanceof Error ? new Error(error.message) : undefined },
      );
    }

    let incompleteSince = 0;
    let rejected: string | undefined;
    let detected: string | undefined;
    for (;;) {
      if (closed) throw cancelled();
      dirty = false;
      let result: Extraction | PartialExtraction | undefined;
      try {
        result = await read(() =>
          strategy.extract(page, {
            ...(settings.account !== undefined ? { account: settings.account } : {}),
            signal,
          }),
        );
      } catch (error) {
        if (signal.aborted || isLatchkeyError(error)) throw error;
        // The page was navigating, closing or stuck: read it again on the next wake-up.
        result = undefined;
      }
      if (closed && (result === undefined || isPartial(result))) throw cancelled();

      let next: LoopState = 'waiting';
      if (result !== undefined && isPartial(result)) {
        next = 'partial';
        if (result.missing.join('\n') !== missing.join('\n')) {
          missing = [...result.missing];
          settings.emit({ type: 'extraction_incomplete', missing });
        }
      } else if (result !== undefined) {
        const accessToken = secret(result.accessToken);
        const secrets = Object.freeze(
          Object.fromEntries(
            Object.entries(result.secrets ?? {}).map(([k, v]) => [k, secret(v)] as const),
          ),
        );
        const print = fingerprint(accessToken, secrets);
        if (print === rejected) {
          next = 'rejected';
        } else {
          if (print !== detected) {
            detected = print;
            settings.emit({ type: 'login_detected' });
          }
          const metadata = { ...result.metadata, userAgent };
          const identity = await validate(provider, strategy, {
            accessToken,
            secrets,
            metadata,
            ...(result.account !== undefined ? { account: result.account } : {}),
            userAgent,
            fetch: fetchImpl,
            signal,
          });
          if (identity !== false) {
            const account = identity?.account ?? result.account ?? settings.account ?? 'default';
            return freezeCredentials({
              providerId: provider.id,
              account,
              tokenType: (result.tokenType ?? 'bearer').toLowerCase(),
              accessToken,
              ...(result.expiresAt !== undefined ? { expiresAt: result.expiresAt } : {}),
              scopes: [],
              secrets,
              metadata: { ...result.metadata, ...identity?.metadata, userAgent },
              obtainedAt: Date.now(),
            });
          }
          rejected = print;
          next = 'rejected';
          settings.emit({ type: 'credentials_rejected' });
        }
      }
      if (next === 'waiting') {
        missing = [];
      } else if (state !== next) {
        incompleteSince = Date.now();
      }
      state = next;

      let waitMs = strategy.pollIntervalMs;
      if (state !== 'waiting') {
        const left =
          Math.max(incompleteSince, lastNavigationAt) + strategy.incompleteTimeoutMs - Date.now();
        if (left <= 0) throw incomplete();
        waitMs = Math.min(waitMs, left);
      }
      if (!dirty && !closed) await waitForActivity(waitMs);
    }
  } catch (error) {
    if (!signal.aborted) throw error;
    // At its own time limit, the sign-in says what it found unusable, if anything.
    if (!settings.signal?.aborted && state !== 'waiting') throw incomplete();
    throw d.error(what);
  } finally {
    finished = true;
    d.dispose();
    if (window) {
      await closeWindow(window);
      settings.emit({ type: 'browser_closed' });
    }
  }
}

async function validate(
  provider: ProviderOf<StrategyBase>,
  strategy: BrowserStrategy,
  context: Parameters<NonNullable<BrowserStrategy['validate']>>[0],
): Promise<AccountIdentity | false | undefined> {
  if (!strategy.validate) return undefined;
  let identity: AccountIdentity | false;
  try {
    identity = await raceAbort(
      Promise.resolve().then(() => strategy.validate?.(context) as AccountIdentity | false),
      context.signal,
    );
  } catch (error) {
    if (context.signal.aborted) throw error;
    if (isLatchkeyError(error, 'INVALID_CREDENTIALS')) return false;
    if (isLatchkeyError(error)) throw error;
    throw new LatchkeyError(
      'NETWORK_ERROR',
      `Checking the ${provider.name} session with the service failed. Check the connection and try again.`,
      {
        cause:
          error instanceof Error
            ? new Error(
                maskSecrets(error.message, [
                  context.accessToken,
                  ...Object.values(context.secrets),
                ]),
              )
            : undefined,
      },
    );
  }
  if (identity === false) return false;
  if (
    typeof identity !== 'object' ||
    identity === null ||
    typeof identity.account !== 'string' ||
    identity.account === ''
  ) {
    throw new LatchkeyError(
      'INVALID_RESPONSE',
      `The ${provider.name} provider's validate() returned no account name. It must return { account } or false.`,
    );
  }
  return identity;
}
