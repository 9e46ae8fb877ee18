import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, isLatchkeyError, type LatchkeyError, memoryStore } from '../src/index.js';
import {
  createAuthorizationRequest,
  resolveAuthorizationServer,
  validateCallback,
} from '../src/oauth.js';
import { canaryWatch, options, testProvider, unattendedUser } from './helpers.js';

let server: TestAuthServer;

beforeAll(async () => {
  server = await startAuthServer();
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  server.fault(undefined);
  server.setInteraction('auto');
  server.resetCounts();
});

async function signInError(extra: Parameters<typeof options>[0] = {}): Promise<LatchkeyError> {
  const watch = canaryWatch();
  const error = await authenticate(
    testProvider(server),
    options({
      store: memoryStore(),
      openUrl: unattendedUser().openUrl,
      fetch: watch.fetch,
      onEvent: watch.onEvent,
      ...extra,
    }),
  ).then(
    () => {
      throw new Error('sign-in succeeded against a broken server');
    },
    (e: unknown) => e,
  );
  expect(isLatchkeyError(error), String(error)).toBe(true);
  watch.record(error);
  expect(watch.leaks()).toEqual([]);
  return error as LatchkeyError;
}

describe('broken authorization server responses', () => {
  it.each([
    ['html-500', 'INVALID_RESPONSE'],
    ['http-500-json', 'INVALID_RESPONSE'],
    ['malformed-json', 'INVALID_RESPONSE'],
    ['missing-access-token', 'INVALID_RESPONSE'],
  ] as const)('token endpoint %s -> %s', async (kind, code) => {
    server.fault({ endpoint: 'token', kind });
    const error = await signInError();
    expect(error.code).toBe(code);
    if (kind.includes('500')) expect(error.message).toContain('HTTP 500');
  });

  it.each([
    ['html-500', 'DISCOVERY_FAILED'],
    ['malformed-json', 'DISCOVERY_FAILED'],
    ['wrong-issuer', 'ISSUER_MISMATCH'],
  ] as const)('discovery %s -> %s', async (kind, code) => {
    server.fault({ endpoint: 'discovery', kind });
    expect((await signInError()).code).toBe(code);
  });

  it('access denied by the user -> AUTH_DENIED', async () => {
    server.setInteraction('deny');
    const user = unattendedUser();
    const error = await signInError({ openUrl: user.openUrl });
    expect(error.code).toBe('AUTH_DENIED');
    expect((await user.outcomes[0])?.status).toBe(400);
  });

  it('an unreachable server -> NETWORK_ERROR', async () => {
    const dead = await startAuthServer();
    const issuer = dead.issuer;
    await dead.close();
    const error = await authenticate(
      testProvider({ ...server, issuer } as TestAuthServer),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'NETWORK_ERROR')).toBe(true);
    // The message names the host it could not reach.
    expect((error as Error).message).toContain(new URL(issuer).host);
  });

  it('a rejected client secret (401 invalid_client) -> TOKEN_REQUEST_FAILED with the server error and the setting to check', async () => {
    const error = await authenticate(
      testProvider(server, {
        clientId: server.clients.basic.clientId,
        clientSecret: 'not-the-secret',
      }),
      options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'TOKEN_REQUEST_FAILED'), String(error)).toBe(true);
    expect((error as Error).message).toContain('HTTP 401, invalid_client');
    expect((error as Error).message).toContain('clientSecret');
    expect((error as Error).message).not.toContain('not-the-secret');
  });
});

describe('callback checks (RFC 6749 state, RFC 9207 iss)', () => {
  async function request() {
    const ctx = await resolveAuthorizationServer(testProvider(server));
    const req = await createAuthorizationRequest(ctx, {
      redirectUri: 'http://127.0.0.1:9/callback',
    });
    const callback = (params: Record<string, string>) => {
      const url = new URL(req.redirectUri);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return url;
    };
    return { ctx, req, callback };
  }

  it('the server advertises iss in authorization responses', async () => {
    const { ctx } = await request();
    expect(ctx.as.authorization_response_iss_parameter_supported).toBe(true);
  });

  it('rejects an iss from another server, before looking at an error', async () => {
    const { ctx, req, callback } = await request();
    const cases: Record<string, string>[] = [
      { code: 'x', state: req.state, iss: 'https://evil.example' },
      { error: 'access_denied', state: req.state, iss: 'https://evil.example' },
    ];
    for (const params of cases) {
      const error = (() => {
        try {
          validateCallback(ctx, req, callback(params));
        } catch (e) {
          return e;
        }
      })();
      expect(isLatchkeyError(error, 'ISSUER_MISMATCH')).toBe(true);
    }
  });

  it('rejects a missing iss when the server promised one', async () => {
    const { ctx, req, callback } = await request();
    expect(() => validateCallback(ctx, req, callback({ code: 'x', state: req.state }))).toThrow(
      expect.objectContaining({ code: 'ISSUER_MISMATCH' }),
    );
  });

  it('rejects a state mismatch', async () => {
    const { ctx, req, callback } = await request();
    expect(() =>
      validateCallback(ctx, req, callback({ code: 'x', state: 'forged', iss: server.issuer })),
    ).toThrow(expect.objectContaining({ code: 'STATE_MISMATCH' }));
  });

  it('accepts a proper response', async () => {
    const { ctx, req, callback } = await request();
    const params = validateCallback(
      ctx,
      req,
      callback({ code: 'x', state: req.state, iss: server.issuer }),
    );
    expect(params.get('code')).toBe('x');
  });
});

describe('hostile callbacks during a real sign-in', () => {
  it('ignores a forged callback and completes with the real one', async () => {
    const events: string[] = [];
    const user = unattendedUser();
    const session = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        onEvent: (e) =>
          events.push(e.type === 'callback_rejected' ? `rejected:${e.reason}` : e.type),
        openUrl: async (url) => {
          const redirect = new URL(url).searchParams.get('redirect_uri') as string;
          const forged = await fetch(`${redirect}?code=attacker&state=guess`);
          expect(forged.status).toBe(400);
          const noCode = await fetch(`${redirect}?state=guess`);
          expect(noCode.status).toBe(400);
          user.openUrl(url);
        },
      }),
    );
    expect(session.account).toBe('alice@example.test');
    expect(events).toContain('rejected:STATE_MISMATCH');
    expect(server.counts().token.authorization_code).toBe(1);
    // The listener is gone once sign-in is over: replaying the callback reaches nothing.
    const final = (await user.outcomes[0])?.finalUrl as string;
    await expect(fetch(final)).rejects.toThrow();
    expect(server.counts().token.authorization_code).toBe(1);
  });

  it('a callback with the right state but no code ends the flow with INVALID_RESPONSE', async () => {
    let page: Promise<Response> | undefined;
    const error = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        openUrl: (url) => {
          const params = new URL(url).searchParams;
          const callback = new URL(params.get('redirect_uri') as string);
          callback.searchParams.set('state', params.get('state') as string);
          callback.searchParams.set('iss', server.issuer);
          page = fetch(callback);
        },
      }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'INVALID_RESPONSE')).toBe(true);
    expect((await page)?.status).toBe(400);
    expect(server.counts().token.authorization_code ?? 0).toBe(0);
  });

  it('times out with AUTH_TIMEOUT when no callback comes, and frees the port', async () => {
    let redirect = '';
    const error = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        timeoutMs: 800,
        openUrl: (url) => {
          redirect = new URL(url).searchParams.get('redirect_uri') as string;
        },
      }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'AUTH_TIMEOUT')).toBe(true);
    expect((error as Error).message).toContain('timeoutMs');
    await expect(fetch(redirect)).rejects.toThrow();
  });

  it('stops with AUTH_CANCELLED when the host aborts', async () => {
    const controller = new AbortController();
    const error = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        signal: controller.signal,
        openUrl: () => controller.abort(),
      }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'AUTH_CANCELLED')).toBe(true);
  });

  it('reports a browser that cannot be opened as OPEN_URL_FAILED, suggesting the device and paste flows', async () => {
    const error = await signInError({
      openUrl: () => {
        throw new Error('no display');
      },
    });
    expect(error.code).toBe('OPEN_URL_FAILED');
    expect(error.message).toContain('flow "device"');
    expect(error.message).toContain('flow "paste"');
  });

  it('fails with LOGIN_REQUIRED instead of opening a browser when not interactive', async () => {
    const error = await signInError({ interactive: false });
    expect(error.code).toBe('LOGIN_REQUIRED');
  });
});
