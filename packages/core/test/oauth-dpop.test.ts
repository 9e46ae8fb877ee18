// DPoP (RFC 9449) with the oauth strategy, opted into with `dpop: 'auto'`, against
// oidc-provider with its DPoP feature on: loopback, device and web sign-ins, refreshes with a
// proof, a refresh token the server has bound to the key, and the default that keeps
// bearer tokens for recipes.
import { completeAuthorization, startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticate,
  defineServer,
  finishSignIn,
  isLatchkeyError,
  memoryStore,
  startSignIn,
} from '../src/index.js';
import { launchServer } from '../src/sdk-v1.js';
import { deviceSignIn, options, testProvider, unattendedUser } from './helpers.js';

let server: TestAuthServer;

beforeAll(async () => {
  server = await startAuthServer({ dpop: {} });
});
afterAll(async () => {
  await server?.close();
});

/** Refreshes with the raw refresh token and no proof, as a thief holding only the token would. */
async function refreshWithoutProof(
  refreshToken: string,
): Promise<{ status: number; error?: string }> {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: server.clients.public.clientId,
    }),
  });
  const body = (await response.json()) as { error?: string };
  return { status: response.status, ...(body.error ? { error: body.error } : {}) };
}

describe('DPoP with the oauth strategy', () => {
  it('binds a web sign-in to the key kept with the pending sign-in, finished on another engine', async () => {
    const store = memoryStore();
    const provider = testProvider(server, { dpop: 'auto' });
    const redirectUri = 'http://127.0.0.1:9/web/callback';
    const { url } = await startSignIn(provider, { store, user: 'u', redirectUri });
    const jkt = new URL(url).searchParams.get('dpop_jkt');
    expect(jkt).toBeTruthy();
    const { finalUrl } = await completeAuthorization(url, { stopAt: redirectUri });
    const session = await finishSignIn(provider, { store, user: 'u', callbackUrl: finalUrl });
    const first = session.current();
    expect(first.tokenType).toBe('dpop');
    const refreshed = await session.refresh();
    expect(refreshed.tokenType).toBe('dpop');
    expect(refreshed.dpopKey?.reveal()).toBe(first.dpopKey?.reveal());
    expect(await refreshWithoutProof(refreshed.refreshToken?.reveal() as string)).toEqual({
      status: 400,
      error: 'invalid_grant',
    });
  });

  it('binds a loopback sign-in and its refreshes to the key; the refresh token is useless without it', async () => {
    const session = await authenticate(
      testProvider(server, { dpop: 'auto' }),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    );
    const first = session.current();
    expect(first.tokenType).toBe('dpop');
    expect(first.dpopKey).toBeDefined();
    const refreshed = await session.refresh();
    expect(refreshed.tokenType).toBe('dpop');
    expect(refreshed.dpopKey?.reveal()).toBe(first.dpopKey?.reveal());
    expect(refreshed.accessToken.reveal()).not.toBe(first.accessToken.reveal());
    // The server bound the (rotated) refresh token to the key: without a proof it refuses it.
    expect(await refreshWithoutProof(refreshed.refreshToken?.reveal() as string)).toEqual({
      status: 400,
      error: 'invalid_grant',
    });
  });

  it('binds a device sign-in too', async () => {
    const session = await deviceSignIn(server, testProvider(server, { dpop: 'auto' }));
    expect(session.current().tokenType).toBe('dpop');
    expect((await session.refresh()).tokenType).toBe('dpop');
  });

  it('keeps bearer tokens by default, which recipes can hand to servers', async () => {
    const session = await authenticate(
      testProvider(server),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    );
    expect(session.current().tokenType).toBe('bearer');
    expect(session.current().dpopKey).toBeUndefined();
    // Without a key, the refresh token works as a bearer one.
    expect(
      (await refreshWithoutProof(session.current().refreshToken?.reveal() as string)).status,
    ).toBe(200);
  });

  it('refuses to hand a DPoP-bound token to a server in its environment', async () => {
    const session = await authenticate(
      testProvider(server, { dpop: 'auto' }),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    );
    const recipe = defineServer({
      id: 'env-token',
      transport: { kind: 'stdio', command: process.execPath, args: ['-e', ''] },
      credentials: ['accessToken'],
      inject: (credentials) => ({ env: { TOKEN: credentials.accessToken } }),
    });
    const error = await launchServer(recipe, session).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'MISSING_CREDENTIAL')).toBe(true);
    expect((error as Error).message).toContain("dpop: 'refuse'");
  });

  it('require: DPOP_UNSUPPORTED from a server that does not offer DPoP', async () => {
    const plain = await startAuthServer();
    try {
      const error = await authenticate(
        testProvider(plain, { dpop: 'require' }),
        options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
      ).catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'DPOP_UNSUPPORTED')).toBe(true);
    } finally {
      await plain.close();
    }
  });
});
