// launchServer() over Streamable HTTP against the credential fixture on 127.0.0.1:0:
// a bearer header per request (fresh after a refresh) or per connection (reconnect).
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  authenticate,
  credentialFetch,
  isLatchkeyError,
  memoryStore,
  type Session,
} from '../src/index.js';
import { type LaunchedServer, launchServer } from '../src/sdk-v1.js';
import {
  type CredentialHttpServer,
  startCredentialHttpServer,
} from './fixtures/credential-http-server.js';
import { sha256 } from './fixtures/credential-server.js';
import { options, testProvider, unattendedUser } from './helpers.js';
import {
  canaryToken,
  childPids,
  httpFixtureRecipe,
  leakWatch,
  plainCredentials,
  report,
} from './launch-helpers.js';

let auth: TestAuthServer;
let http: CredentialHttpServer;
let session: Session;
const open = new Set<LaunchedServer>();

beforeAll(async () => {
  auth = await startAuthServer({ accessTokenTtl: 600 });
  session = await authenticate(
    testProvider(auth),
    options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
  );
});
afterAll(async () => {
  await auth?.close();
});
beforeEach(async () => {
  http = await startCredentialHttpServer();
});
afterEach(async () => {
  for (const server of open) await server.close();
  open.clear();
  await http.close();
  expect(childPids()).toEqual([]);
});

const token = () => session.current().accessToken.reveal();

describe('launchServer over Streamable HTTP', () => {
  it('sends a fresh bearer header with every request (per-request), in the same session', async () => {
    const watch = leakWatch();
    const server = await launchServer(httpFixtureRecipe(http.url, 'per-request'), session, {
      onEvent: watch.onEvent,
    });
    open.add(server);
    expect(server.pid).toBeUndefined();
    const first = token();
    expect(report(await server.client.callTool({ name: 'credentials' })).header).toBe(
      sha256(first),
    );

    const next = await session.refresh();
    expect(next.accessToken.reveal()).not.toBe(first);
    expect(report(await server.client.callTool({ name: 'credentials' })).header).toBe(
      sha256(next.accessToken.reveal()),
    );
    // No reconnect: one session, and every request carried a token.
    expect(http.sessions).toHaveLength(1);
    expect(http.bearerHashes).not.toContain('none');
    expect(watch.events.map((e) => e.type)).toContain('server_credentials_updated');
    expect(watch.events.map((e) => e.type)).not.toContain('server_restarting');
    expect(watch.leaks([first, next.accessToken.reveal()])).toEqual([]);
  });

  it('reconnects with the new header after a refresh (restart policy)', async () => {
    const server = await launchServer(httpFixtureRecipe(http.url, 'restart'), session);
    open.add(server);
    const first = token();
    expect(report(await server.client.callTool({ name: 'credentials' })).header).toBe(
      sha256(first),
    );
    const reconnected = new Promise<void>((resolve) =>
      server.onEvent((e) => {
        if (e.type === 'server_started' && e.generation === 2) resolve();
      }),
    );
    const next = await session.refresh();
    await reconnected;
    expect(report(await server.client.callTool({ name: 'credentials' })).header).toBe(
      sha256(next.accessToken.reveal()),
    );
    expect(http.sessions).toHaveLength(2);
  });

  it('fails a request in flight during a reconnect with SERVER_RESTARTED', async () => {
    const server = await launchServer(
      httpFixtureRecipe(http.url, 'restart'),
      plainCredentials(canaryToken()),
    );
    open.add(server);
    const inFlight = server.client.callTool({ name: 'slow' }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await server.updateCredentials(plainCredentials(canaryToken()));
    expect(isLatchkeyError(await inFlight, 'SERVER_RESTARTED')).toBe(true);
    expect(http.sessions).toHaveLength(2);
  });

  it('builds on the host fetch', async () => {
    const seen: string[] = [];
    const hostFetch: typeof fetch = (input, init) => {
      seen.push(new Headers(init?.headers).get('x-host') ?? 'missing');
      return fetch(input, init);
    };
    const wrapped = credentialFetch({
      headers: () => ({ 'x-host': 'overridden', authorization: 'Bearer abc' }),
      fetch: hostFetch,
    });
    await wrapped(http.url, { method: 'GET', headers: { 'x-host': 'from-caller' } });
    expect(seen).toEqual(['overridden']);
    expect(http.bearerHashes.at(-1)).toBe(sha256('abc'));

    const server = await launchServer(httpFixtureRecipe(http.url, 'per-request'), session, {
      fetch: (input, init) => {
        seen.push('host fetch');
        return fetch(input, init);
      },
    });
    open.add(server);
    await server.client.listTools();
    expect(seen).toContain('host fetch');
  });

  it('names the URL when nothing listens there (NETWORK_ERROR)', async () => {
    const url = http.url;
    await http.close();
    const error = await launchServer(httpFixtureRecipe(url, 'per-request'), session, {
      startTimeoutMs: 5_000,
    }).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'NETWORK_ERROR')).toBe(true);
    expect((error as Error).message).toContain(url);
    http = await startCredentialHttpServer();
  });
});
