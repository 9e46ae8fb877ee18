import { createInterface } from 'node:readline/promises';
import {
  authenticate,
  type CredentialStore,
  isLatchkeyError,
  type LatchkeyEvent,
  type Session,
  type SignInFlow,
} from '@latchkey/core';
import { cliOpener, hasDisplay } from './opener.js';
import type { ProviderEntry, Registry } from './registry.js';
import type { Reporter } from './report.js';

/** How long one sign-in may take, waiting for another process's included. */
const SIGN_IN_TIMEOUT_MS = 10 * 60_000;

export interface SignInOptions {
  store: CredentialStore;
  registry: Registry;
  reporter: Reporter;
  account?: string | undefined;
  /** `browser` (the loopback redirect), `device` or `paste`; default: browser, or device without a display. */
  flow?: 'browser' | 'device' | 'paste' | undefined;
  /** Sign in even when a login is stored. */
  force?: boolean;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

function describe(event: LatchkeyEvent, reporter: Reporter): void {
  switch (event.type) {
    case 'device_code_issued': {
      const e = event as {
        verificationUri?: string;
        userCode?: string;
        verificationUriComplete?: string;
      };
      reporter.line(
        `To sign in, open ${e.verificationUriComplete ?? e.verificationUri} and enter the code ${e.userCode}`,
      );
      reporter.progress('Waiting for you to approve the sign-in…');
      break;
    }
    case 'waiting_for_callback':
      reporter.progress('Waiting for the sign-in to finish in the browser…');
      break;
    case 'token_refreshed':
      reporter.progress('Refreshed the stored login');
      break;
    default:
  }
}

/**
 * The session for `entry`: the stored login when it serves (refreshed if needed), else a
 * sign-in. Processes started together for the same login sign in once: the first takes
 * the store's lock for the sign-in, the others wait for it and then use its login.
 */
export async function signIn(
  entry: ProviderEntry,
  scopes: readonly string[],
  options: SignInOptions,
): Promise<Session> {
  const { store, reporter, account } = options;
  const provider = entry.make(scopes);
  const base = {
    store,
    ...(account !== undefined ? { account } : {}),
    ...(scopes.length > 0 ? { scopes } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onEvent: (event: LatchkeyEvent) => describe(event, reporter),
  };
  const env = options.env ?? process.env;
  const chosen = options.flow;
  const flow: SignInFlow | undefined =
    chosen === 'device'
      ? 'device'
      : chosen === 'paste'
        ? 'paste'
        : chosen === 'browser'
          ? 'loopback'
          : undefined;
  // What a sign-in needs, now or later (a step-up, a login that ended): the session keeps it.
  const interactive = async () => ({
    ...base,
    timeoutMs: SIGN_IN_TIMEOUT_MS,
    openUrl: cliOpener(reporter, env),
    paste: (url: string, signal: AbortSignal) => askForPaste(url, reporter, signal),
    ...(entry.drivesBrowser ? { browser: await options.registry.browser() } : {}),
    ...(flow ? { flow } : {}),
  });
  /** The stored login, in a session that can still sign in again later; LOGIN_REQUIRED without one. */
  const stored = async () => {
    await authenticate(provider, { ...base, interactive: false });
    return authenticate(provider, await interactive());
  };
  if (!options.force) {
    try {
      return await stored();
    } catch (error) {
      if (!isLatchkeyError(error, 'LOGIN_REQUIRED')) throw error;
    }
  }
  reporter.progress(`Signing in to ${provider.name}…`);
  const lockKey = `cli/sign-in/${encodeURIComponent(provider.id)}/${encodeURIComponent(account ?? '*')}`;
  return store.lock(
    lockKey,
    async () => {
      if (!options.force) {
        try {
          // Another process may have signed in while this one waited for the lock.
          return await stored();
        } catch (error) {
          if (!isLatchkeyError(error, 'LOGIN_REQUIRED')) throw error;
        }
      }
      const signInOptions = {
        ...(await interactive()),
        ...(options.force ? { forceLogin: true } : {}),
      };
      if (flow === undefined && !entry.drivesBrowser && !hasDisplay(env) && !env.BROWSER) {
        // No browser can be shown here: a device code works from any other device.
        try {
          return await authenticate(provider, { ...signInOptions, flow: 'device' });
        } catch (error) {
          if (!isLatchkeyError(error, 'PROVIDER_CONFIG')) throw error;
          reporter.line(`${provider.name} offers no device sign-in.`);
        }
      }
      return authenticate(provider, signInOptions);
    },
    { timeoutMs: SIGN_IN_TIMEOUT_MS, ...(options.signal ? { signal: options.signal } : {}) },
  );
}

/** Shows the URL and reads the address the browser ended on from the terminal. */
async function askForPaste(url: string, reporter: Reporter, signal: AbortSignal): Promise<string> {
  reporter.stop();
  reporter.line(`Open this page in any browser and sign in: ${url}`);
  const rl = createInterface({
    input: process.stdin,
    output: process.stderr,
    terminal: process.stdin.isTTY === true,
  });
  try {
    return (
      await rl.question('Then paste the address the browser ended on here: ', { signal })
    ).trim();
  } finally {
    rl.close();
  }
}
