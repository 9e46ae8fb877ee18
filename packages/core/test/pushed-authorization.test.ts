// Pushed authorization requests (RFC 9126) against oidc-provider with PAR on: a refused
// request fails before any browser is opened, a normal sign-in opens a URL that only
// names the pushed request, DPoP proofs go with the push (RFC 9449 §10.1), and a
// token-exchange proxy (which holds the client secret) skips PAR, or fails clearly when
// the server requires it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import {
  completeAuthorization,
  decodeDpopProof,
  type McpAuthServer,
  startAuthServer,
  startMcpAuthServer,
  startMcpServer,
  type TestAuthServer,
  type TestMcpServer,
} from '@latchkey/testkit';
import type { KoaMiddleware } from 'oidc-provider';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, isLatchkeyError, mcpAuthProvider, memoryStore } from '../src/index.js';
import {
  canaryWatch,
  deviceSignIn,
  noBrowser,
  options,
  testProvider,
  unattendedUser,
} from './helpers.js';

const REQUEST_URI = /^urn:ietf:params:oauth:request_uri:/;

/** A pushed authorization request as the server saw it. */
interface Pushed {
  status: number;
  params: Record<string, string>;
  dpopJkt?: string;
}

/** Koa middleware recording every pushed authorization request (`POST /request`). */
function pushRecorder(into: Pushed[]): KoaMiddleware {
  return async (ctx, next) => {
    try {
      await next();
    } finally {
      if (ctx.method === 'POST' && ctx.path === '/request') {
        const body = (ctx.oidc?.body ?? {}) as Record<string, unknown>;
        const params = Object.fromEntries(
          Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string'),
        );
        const proof = ctx.get('dpop');
        const jkt = proof ? decodeDpopProof(proof).jkt : undefined;
        into.push({ status: ctx.status, params, ...(jkt ? { dpopJkt: jkt } : {}) });
      }
    }
  };
}

/**
 * Collects, besides what {@link canaryWatch} collects, every client secret and PKCE code
 * verifier the client sends, so a leak of those is caught too.
 */
function secretWatch(...secrets: string[]) {
  const watch = canaryWatch();
  for (const secret of secrets) watch.tokens.add(secret);
  const inner = watch.fetch;
  const wrapped: typeof fetch = async (input, init) => {
    if (init?.body instanceof URLSearchParams || typeof init?.body === 'string') {
      const form = new URLSearchParams(init.body);
      for (const field of ['code_verifier', 'client_secret']) {
        const value = form.get(field);
        if (value) watch.tokens.add(value);
      }
    }
    return inner(input, init);
  };
  return { ...watch, fetch: wrapped };
}

function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer(handler);
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

function close(s: Server): Promise<void> {
  return new Promise((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
}

/** A token-exchange proxy that adds the basic client's secret, as a host's backend would. */
async function tokenProxy(
  server: TestAuthServer,
): Promise<{ url: string; close(): Promise<void> }> {
  const proxy = await listen(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const { clientId, clientSecret } = server.clients.basic;
    const answer = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      },
      body,
    });
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
  });
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/token`,
    close: () => close(proxy),
  };
}

const pushed: Pushed[] = [];
let server: TestAuthServer;

beforeAll(async () => {
  server = await startAuthServer({
    pushedAuthorizationRequests: true,
    middleware: [pushRecorder(pushed)],
  });
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  pushed.length = 0;
});

describe('pushed authorization requests (RFC 9126)', () => {
  it('an unknown client id fails at once with AUTHORIZATION_REQUEST_REJECTED, not AUTH_TIMEOUT', async () => {
    const secret = 'canary-client-secret-0123456789';
    const watch = secretWatch(secret);
    const started = Date.now();
    const error = await authenticate(
      testProvider(server, {
        clientId: 'no-such-client',
        clientSecret: secret,
        clientAuthentication: 'client_secret_post',
      }),
      options({
        store: memoryStore(),
        timeoutMs: 20_000,
        openUrl: noBrowser(),
        fetch: watch.fetch,
        onEvent: watch.onEvent,
      }),
    ).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(isLatchkeyError(error, 'AUTHORIZATION_REQUEST_REJECTED')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('invalid_client');
    expect(message).toContain('clientId');
    expect(message).toContain('pushed authorization request');
    expect(elapsed).toBeLessThan(5_000);
    expect(pushed.map((p) => p.status)).toEqual([401]);
    expect(watch.events.map((e) => e.type)).not.toContain('authorization_url_opened');
    watch.record(error);
    expect(watch.leaks()).toEqual([]);
  });

  it('a redirect URI the client did not register fails at once, naming the redirect URI to register', async () => {
    const open = await startAuthServer({
      pushedAuthorizationRequests: true,
      dynamicRegistration: true,
    });
    try {
      // A web client, registered for its own https redirect only: the loopback one is not allowed.
      const registered = await fetch(`${open.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          application_type: 'web',
          redirect_uris: ['https://app.example/callback'],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code'],
          response_types: ['code'],
        }),
      });
      const { client_id: clientId } = (await registered.json()) as { client_id: string };
      const started = Date.now();
      const error = await authenticate(
        testProvider(open, { clientId }),
        options({ store: memoryStore(), timeoutMs: 20_000, openUrl: noBrowser() }),
      ).catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'AUTHORIZATION_REQUEST_REJECTED')).toBe(true);
      const message = (error as Error).message;
      expect(message).toContain('redirect_uri');
      expect(message).toMatch(
        /redirect URIs registered for the client: they must allow http:\/\/127\.0\.0\.1:\d+\/callback/,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await open.close();
    }
  });

  it('signs in through a pushed request: the URL opened carries client_id and request_uri only', async () => {
    const user = unattendedUser();
    const watch = secretWatch();
    const session = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        openUrl: user.openUrl,
        fetch: watch.fetch,
        onEvent: watch.onEvent,
      }),
    );
    expect(session.account).toBe('alice@example.test');
    const url = new URL(user.opened[0] as string);
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(url.searchParams.get('client_id')).toBe(server.clients.public.clientId);
    expect(url.searchParams.get('request_uri')).toMatch(REQUEST_URI);
    expect((await user.outcomes[0])?.status).toBe(200);

    expect(pushed).toHaveLength(1);
    const { params, status } = pushed[0] as Pushed;
    expect(status).toBe(201);
    expect(params).toMatchObject({
      client_id: server.clients.public.clientId,
      response_type: 'code',
      code_challenge_method: 'S256',
      scope: 'openid email read',
    });
    expect(params.redirect_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(params.state).toMatch(/\S{20,}/);
    expect(watch.tokens.size).toBeGreaterThanOrEqual(3);
    watch.record(session);
    watch.record(session.current());
    expect(watch.leaks()).toEqual([]);
  });

  it('authenticates confidential clients at the PAR endpoint, with no secret in messages or events', async () => {
    for (const [client, method] of [
      [server.clients.basic, 'client_secret_basic'],
      [server.clients.post, 'client_secret_post'],
    ] as const) {
      const watch = secretWatch(client.clientSecret);
      const session = await authenticate(
        testProvider(
          server,
          {
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            clientAuthentication: method,
          },
          `par-${method}`,
        ),
        options({
          store: memoryStore(),
          openUrl: unattendedUser().openUrl,
          fetch: watch.fetch,
          onEvent: watch.onEvent,
        }),
      );
      expect(session.account).toBe('alice@example.test');
      watch.record(session.current());
      expect(watch.leaks()).toEqual([]);
    }
    expect(pushed.map((p) => p.status)).toEqual([201, 201]);
  });

  it('leaves the paste flow and the device flow unpushed where the server only offers PAR', async () => {
    const session = await authenticate(
      testProvider(server),
      options({
        store: memoryStore(),
        flow: 'paste',
        paste: async (url) => {
          // The user may open this URL on another device minutes later, after a pushed
          // request's minute has run out: it carries its parameters itself.
          expect(new URL(url).searchParams.get('request_uri')).toBeNull();
          expect(new URL(url).searchParams.get('code_challenge_method')).toBe('S256');
          return pasteBack(url);
        },
      }),
    );
    expect(session.account).toBe('alice@example.test');

    const device = await deviceSignIn(server, testProvider(server));
    expect(device.account).toBe('alice@example.test');
    expect(pushed).toHaveLength(0);
  });

  it('skips PAR for a provider behind a token-exchange proxy, which holds the client secret', async () => {
    const proxy = await tokenProxy(server);
    try {
      const user = unattendedUser();
      const session = await authenticate(
        testProvider(
          server,
          { clientId: server.clients.basic.clientId, tokenExchange: proxy.url },
          'proxied',
        ),
        options({ store: memoryStore(), openUrl: user.openUrl }),
      );
      expect(session.account).toBe('alice@example.test');
      expect(pushed).toEqual([]);
      const url = new URL(user.opened[0] as string);
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
      expect(url.searchParams.has('request_uri')).toBe(false);
    } finally {
      await proxy.close();
    }
  });
});

/** Signs in at `url` as a browser on another device would, and returns the address it ends at. */
async function pasteBack(url: string, redirectUri?: string): Promise<string> {
  const redirect = new URL(
    redirectUri ?? (new URL(url).searchParams.get('redirect_uri') as string),
  );
  // The browser runs elsewhere: there, the redirect lands on a page of its own.
  const elsewhere = await new Promise<Server>((resolve) => {
    const s = createServer((_req, res) => res.end('unreachable app'));
    s.listen(Number(redirect.port), '127.0.0.1', () => resolve(s));
  });
  try {
    return (await completeAuthorization(url)).finalUrl;
  } finally {
    await close(elsewhere);
  }
}

describe('require_pushed_authorization_requests', () => {
  let strict: TestAuthServer;
  const strictPushed: Pushed[] = [];
  beforeAll(async () => {
    strict = await startAuthServer({
      pushedAuthorizationRequests: 'required',
      middleware: [pushRecorder(strictPushed)],
    });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it('signs in through a pushed request', async () => {
    const user = unattendedUser();
    const session = await authenticate(
      testProvider(strict),
      options({ store: memoryStore(), openUrl: user.openUrl }),
    );
    expect(session.account).toBe('alice@example.test');
    expect(new URL(user.opened[0] as string).searchParams.get('request_uri')).toMatch(REQUEST_URI);
    expect(strictPushed.map((p) => p.status)).toEqual([201]);
  });

  it('pushes the request of the paste flow too, since the server takes no other', async () => {
    const session = await authenticate(
      testProvider(strict),
      options({
        store: memoryStore(),
        flow: 'paste',
        paste: async (url) => {
          expect(new URL(url).searchParams.get('request_uri')).toMatch(REQUEST_URI);
          return pasteBack(url, strictPushed.at(-1)?.params.redirect_uri);
        },
      }),
    );
    expect(session.account).toBe('alice@example.test');
    expect(strictPushed.at(-1)?.status).toBe(201);
  });

  it('fails at once with PAR_REQUIRED for a provider behind a token-exchange proxy', async () => {
    const proxy = await tokenProxy(strict);
    try {
      const started = Date.now();
      const error = await authenticate(
        testProvider(
          strict,
          { clientId: strict.clients.basic.clientId, tokenExchange: proxy.url },
          'proxied',
        ),
        options({ store: memoryStore(), timeoutMs: 20_000, openUrl: noBrowser() }),
      ).catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'PAR_REQUIRED')).toBe(true);
      expect((error as Error).message).toContain('token-exchange proxy');
      expect((error as Error).message).toContain('require_pushed_authorization_requests');
      expect(inspect(error)).not.toContain(strict.clients.basic.clientSecret);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await proxy.close();
    }
  });
});

describe('PAR with DPoP (RFC 9449 §10.1)', () => {
  let dpopServer: TestAuthServer;
  const dpopPushed: Pushed[] = [];
  beforeAll(async () => {
    dpopServer = await startAuthServer({
      pushedAuthorizationRequests: true,
      dpop: { requireNonce: true },
      middleware: [pushRecorder(dpopPushed)],
    });
  });
  afterAll(async () => {
    await dpopServer?.close();
  });

  it('proves the key at the PAR endpoint, with a matching dpop_jkt, and binds the tokens to it', async () => {
    const user = unattendedUser();
    const session = await authenticate(
      testProvider(dpopServer, { dpop: 'auto' }),
      options({ store: memoryStore(), openUrl: user.openUrl }),
    );
    expect(session.current().tokenType).toBe('dpop');
    expect([...new URL(user.opened[0] as string).searchParams.keys()].sort()).toEqual([
      'client_id',
      'request_uri',
    ]);
    const accepted = dpopPushed.filter((p) => p.status === 201);
    expect(accepted).toHaveLength(1);
    const push = accepted[0] as Pushed;
    expect(push.params.dpop_jkt).toMatch(/^[\w-]{43}$/);
    expect(push.dpopJkt).toBe(push.params.dpop_jkt);
    // A server nonce requirement at the PAR endpoint is met by one retry at most.
    expect(dpopPushed.length).toBeLessThanOrEqual(2);
    expect((await session.refresh()).tokenType).toBe('dpop');
  });
});

describe('PAR with the mcp strategy', () => {
  let as: McpAuthServer;
  let mcp: TestMcpServer;
  beforeAll(async () => {
    as = await startMcpAuthServer({ pushedAuthorizationRequests: true });
    mcp = await startMcpServer({ authorizationServers: [as.issuer] });
  });
  afterAll(async () => {
    await mcp?.close();
    await as?.close();
  });

  it('pushes the request with its resource, and opens a URL with client_id and request_uri only', async () => {
    const user = unattendedUser();
    const session = await authenticate(mcpAuthProvider(mcp.url, { allowHttpLoopback: true }), {
      store: memoryStore(),
      openUrl: user.openUrl,
      timeoutMs: 20_000,
    });
    expect(session.current().accessToken.reveal()).toBeTruthy();
    const url = new URL(user.opened[0] as string);
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const push = as.requests().find((r) => r.endpoint === 'pushed_authorization');
    expect(push).toMatchObject({ status: 201, resource: [mcp.url] });
    expect(push?.clientId).toBe(url.searchParams.get('client_id'));
  });
});
