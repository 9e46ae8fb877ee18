import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  completeAuthorization,
  completeConsentInBrowser,
  completeDeviceAuthorization,
  type LaunchedChromium,
  launchChromium,
  startAuthServer,
  type TestAuthServer,
} from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, isLatchkeyError, type JsonObject, memoryStore } from '../src/index.js';
import { options, testProvider, unattendedUser } from './helpers.js';

let server: TestAuthServer;

beforeAll(async () => {
  server = await startAuthServer();
});
afterAll(async () => {
  await server?.close();
});

function listen(handler: Parameters<typeof createServer>[1], port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer(handler);
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

function close(s: Server): Promise<void> {
  return new Promise((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
}

describe('headless sign-in', () => {
  it('device authorization grant (RFC 8628)', async () => {
    let approval: Promise<unknown> | undefined;
    const session = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        flow: 'device',
        timeoutMs: 40_000,
        onEvent: (event) => {
          if (event.type === 'device_code_issued') {
            expect(event.userCode).toMatch(/\S/);
            expect(event.verificationUri.startsWith(server.issuer)).toBe(true);
            approval = completeDeviceAuthorization(server, { userCode: event.userCode });
          }
        },
      }),
    );
    expect(await approval).toMatchObject({ approved: true });
    expect(session.account).toBe('alice@example.test');
    expect(session.current().refreshToken).toBeDefined();
  });

  it('device flow fails with AUTH_DENIED when the user refuses', async () => {
    server.setInteraction('deny');
    try {
      const error = await authenticate(
        testProvider(server),
        options({
          store: memoryStore(),
          flow: 'device',
          timeoutMs: 40_000,
          onEvent: (event) => {
            if (event.type === 'device_code_issued') {
              completeDeviceAuthorization(server, { userCode: event.userCode }).catch(() => {});
            }
          },
        }),
      ).catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'AUTH_DENIED')).toBe(true);
    } finally {
      server.setInteraction('auto');
    }
  });

  it('paste-back: the user pastes the address the browser ended on', async () => {
    const session = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        flow: 'paste',
        // The browser runs on another machine: there, the redirect lands on a page of its own.
        paste: async (url) => {
          const port = Number(
            new URL(new URL(url).searchParams.get('redirect_uri') as string).port,
          );
          const elsewhere = await listen((_req, res) => res.end('unreachable app'), port);
          try {
            return (await completeAuthorization(url)).finalUrl;
          } finally {
            await close(elsewhere);
          }
        },
      }),
    );
    expect(session.account).toBe('alice@example.test');
  });

  it('paste-back refuses text that is not the callback address', async () => {
    const error = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        flow: 'paste',
        paste: async () => 'https://example.com/?code=x',
      }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'CALLBACK_INVALID')).toBe(true);
  });
});

describe('consent in a real Chromium', () => {
  let chromium: LaunchedChromium;
  beforeAll(async () => {
    chromium = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await chromium?.close();
  });

  it('the user signs in and consents on the real pages', async () => {
    server.setInteraction('form');
    try {
      let outcome: Promise<{ status: number }> | undefined;
      const session = await authenticate(
        testProvider(server),
        options({
          store: memoryStore(),
          timeoutMs: 60_000,
          openUrl: (url) => {
            outcome = completeConsentInBrowser(chromium.browser, url, { login: 'carol' });
            outcome.catch(() => {});
          },
        }),
      );
      expect(session.account).toBe('carol@example.test');
      expect((await outcome)?.status).toBe(200);
    } finally {
      server.setInteraction('auto');
    }
  });
});

describe('provider hooks', () => {
  it('a token-exchange proxy adds the secret; a Slack-style answer is mapped back', async () => {
    const upstream = `${server.issuer}/token`;
    const seen: { secretInRequest: boolean; authorization: boolean }[] = [];
    // The host's backend: holds the secret, and (like Slack) answers with ok/error on HTTP 200.
    const proxy = await listen(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      seen.push({
        secretInRequest: form.has('client_secret'),
        authorization: req.headers.authorization !== undefined,
      });
      const basic = Buffer.from(
        `${encodeURIComponent(server.clients.basic.clientId)}:${encodeURIComponent(server.clients.basic.clientSecret)}`,
      ).toString('base64');
      const answer = await fetch(upstream, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${basic}`,
        },
        body: form,
      });
      const json = (await answer.json()) as JsonObject;
      const slack = answer.ok
        ? { ok: true, team: { id: 'T0123', name: 'Team' }, authed_user: json }
        : { ok: false, error: json.error };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(slack));
    });
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/token`;
      const provider = testProvider(
        server,
        {
          clientId: server.clients.basic.clientId,
          tokenExchange: proxyUrl,
          mapTokenResponse: (body) => {
            if (body.ok !== true) return { body: { error: String(body.error) } };
            const team = body.team as JsonObject;
            return {
              body: body.authed_user as JsonObject,
              metadata: { teamId: String(team.id), teamName: String(team.name) },
            };
          },
        },
        'proxied',
      );
      const store = memoryStore();
      const session = await authenticate(
        provider,
        options({ store, openUrl: unattendedUser().openUrl }),
      );
      expect(session.current().metadata).toMatchObject({ teamId: 'T0123', teamName: 'Team' });
      await session.refresh();
      expect(seen.length).toBe(2);
      expect(seen.every((s) => !s.secretInRequest && !s.authorization)).toBe(true);

      await server.revokeGrantsFor('alice');
      const error = await session.refresh().catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'REAUTH_REQUIRED')).toBe(true);
    } finally {
      await close(proxy);
    }
  });

  it('authorizationParams are sent and told whether a refresh token is stored', async () => {
    const seen: boolean[] = [];
    const store = memoryStore();
    const user = unattendedUser();
    const provider = testProvider(server, {
      authorizationParams: ({ hasRefreshToken }): Record<string, string> => {
        seen.push(hasRefreshToken);
        return hasRefreshToken ? {} : { prompt: 'consent' };
      },
    });
    await authenticate(provider, options({ store, openUrl: user.openUrl }));
    await authenticate(provider, options({ store, openUrl: user.openUrl, scopes: ['write'] }));
    expect(seen).toEqual([false, true]);
    expect(new URL(user.opened[0] as string).searchParams.get('prompt')).toBe('consent');
    expect(new URL(user.opened[1] as string).searchParams.has('prompt')).toBe(false);
  });
});
