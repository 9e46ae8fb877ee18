// The host reports a sign-in page error through the second argument of `openUrl`: an
// authorization server without PAR shows an error page instead of redirecting back
// (here: an unknown client id), and the sign-in ends at once with SIGN_IN_PAGE_ERROR
// instead of waiting for AUTH_TIMEOUT.
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, isLatchkeyError, memoryStore, type SignInPage } from '../src/index.js';
import { canaryWatch, options, testProvider, unattendedUser } from './helpers.js';

let server: TestAuthServer;

beforeAll(async () => {
  server = await startAuthServer();
});
afterAll(async () => {
  await server?.close();
});

describe('a sign-in page error reported by the host', () => {
  it('an unknown client id ends at once with SIGN_IN_PAGE_ERROR, not AUTH_TIMEOUT, and frees the port', async () => {
    const watch = canaryWatch();
    let opened = '';
    let page: SignInPage | undefined;
    const started = Date.now();
    const error = await authenticate(
      testProvider(server, { clientId: 'no-such-client' }),
      options({
        store: memoryStore(),
        timeoutMs: 20_000,
        onEvent: watch.onEvent,
        // A host with a window of its own: it loads the page, sees an HTTP error, and
        // reports it, quoting the address it failed on as Electron's did-fail-load does.
        openUrl: async (url, signInPage) => {
          opened = url;
          page = signInPage;
          const response = await fetch(url, { redirect: 'manual' });
          await response.body?.cancel();
          if (response.status >= 400) {
            signInPage.reportError({
              status: response.status,
              message: `The page ${url} could not be shown`,
            });
          }
        },
      }),
    ).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(isLatchkeyError(error, 'SIGN_IN_PAGE_ERROR')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('sign-in page');
    expect(message).toContain('reported an error');
    expect(message).toContain('HTTP 400');
    expect(message).toContain('clientId');
    expect(message).toContain('redirect URIs');
    expect(elapsed).toBeLessThan(5_000);

    // Neither the state nor the PKCE challenge, nor the full URL, reaches the message.
    const url = new URL(opened);
    for (const name of ['state', 'code_challenge']) {
      expect(message).not.toContain(url.searchParams.get(name) as string);
    }
    expect(message).not.toContain(opened);
    expect(message).toContain(`${url.origin}${url.pathname}`);
    watch.record(error);
    expect(watch.leaks()).toEqual([]);

    // The window may close: the page's signal has aborted, and the listener is gone.
    expect(page?.signal.aborted).toBe(true);
    const redirect = url.searchParams.get('redirect_uri') as string;
    await expect(fetch(redirect)).rejects.toThrow();
  });

  it("works with the testkit's unattended user, which reports the error page it ends on", async () => {
    const user = unattendedUser();
    const started = Date.now();
    const error = await authenticate(
      testProvider(server, { clientId: 'no-such-client' }),
      options({ store: memoryStore(), timeoutMs: 20_000, openUrl: user.openUrl }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'SIGN_IN_PAGE_ERROR')).toBe(true);
    // The testkit's error page shows oidc-provider's error, which the host passes on.
    expect((error as Error).message).toContain('invalid_client');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await user.outcomes[0])?.status).toBe(400);
  });

  it('aborts the page signal when the sign-in succeeds, and ignores a report after the browser came back', async () => {
    const user = unattendedUser();
    let page: SignInPage | undefined;
    const session = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        openUrl: (url, signInPage) => {
          page = signInPage;
          user.openUrl(url, signInPage);
        },
      }),
    );
    expect(session.account).toBe('alice@example.test');
    expect(page?.signal.aborted).toBe(true);
    expect(() => page?.reportError({ status: 500 })).not.toThrow();
  });

  it('aborts the page signal on timeout too', async () => {
    let page: SignInPage | undefined;
    const error = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        timeoutMs: 500,
        openUrl: (_url, signInPage) => {
          page = signInPage;
        },
      }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'AUTH_TIMEOUT')).toBe(true);
    expect(page?.signal.aborted).toBe(true);
  });

  it('keeps one-argument openUrl functions working', async () => {
    const user = unattendedUser();
    const openUrl = (url: string) => user.openUrl(url);
    const session = await authenticate(
      testProvider(server),
      options({ store: memoryStore(), openUrl }),
    );
    expect(session.account).toBe('alice@example.test');
  });
});
