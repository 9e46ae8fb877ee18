// Reuse compares what is asked now with what the stored login was asked for: a server
// that grants less than asked does not make every call sign in again, and says so once.
// A provider's scopeImplies lets a wider grant cover a narrower need.
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticate,
  defineProvider,
  defineServer,
  isLatchkeyError,
  type LatchkeyEvent,
  memoryStore,
} from '../src/index.js';
import { launchServer } from '../src/sdk-v1.js';
import { noBrowser, options, testProvider, unattendedUser } from './helpers.js';

let server: TestAuthServer;

beforeAll(async () => {
  server = await startAuthServer();
});
afterAll(async () => {
  await server?.close();
});

/** Drops `scope` from the scope a token response grants, as a stingy server would. */
function grantingLess(scope: string): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!String(input instanceof Request ? input.url : input).endsWith('/token')) return response;
    const body = (await response.json()) as Record<string, unknown>;
    if (typeof body.scope === 'string') {
      body.scope = body.scope
        .split(' ')
        .filter((s) => s !== scope)
        .join(' ');
    }
    return new Response(JSON.stringify(body), {
      status: response.status,
      headers: { 'content-type': 'application/json' },
    });
  };
}

describe('scopes and reuse', () => {
  it('a server that grants less than was asked: the login is reused, and the missing scope is reported once', async () => {
    const store = memoryStore();
    const events: LatchkeyEvent[] = [];
    const provider = testProvider(server, { scopes: ['openid', 'email', 'read', 'write'] });
    const first = await authenticate(
      provider,
      options({
        store,
        openUrl: unattendedUser().openUrl,
        fetch: grantingLess('write'),
        onEvent: (e) => events.push(e),
      }),
    );
    expect(first.current().scopes).not.toContain('write');
    expect(first.current().requestedScopes).toContain('write');
    expect(events.filter((e) => e.type === 'scopes_not_granted')).toEqual([
      {
        type: 'scopes_not_granted',
        providerId: provider.id,
        account: first.account,
        scopes: ['write'],
      },
    ]);
    // No new sign-in, interactive or not: what was asked for is what is asked now.
    const again = await authenticate(provider, options({ store, openUrl: noBrowser() }));
    expect(again.account).toBe(first.account);
    const headless = await authenticate(provider, options({ store, interactive: false }));
    expect(headless.account).toBe(first.account);
    // The record of what was asked survives a refresh.
    expect((await headless.refresh()).requestedScopes).toContain('write');
  });

  it('interactive: false names the scopes the stored login was not asked for', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    await authenticate(provider, options({ store, openUrl: unattendedUser().openUrl }));
    const error = await authenticate(
      provider,
      options({ store, interactive: false, scopes: ['write'] }),
    ).catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'LOGIN_REQUIRED')).toBe(true);
    expect((error as Error).message).toContain('was not asked for "write"');
  });

  it("a provider's scopeImplies lets a wider grant cover a narrower request and recipe", async () => {
    const store = memoryStore();
    const wide = defineProvider({
      id: 'implies',
      name: 'Implies',
      strategy: {
        kind: 'oauth',
        issuer: server.issuer,
        clientId: server.clients.public.clientId,
        scopes: ['openid', 'email', 'write'],
      },
      scopeImplies: { write: ['read'] },
    });
    const session = await authenticate(wide, options({ store, openUrl: unattendedUser().openUrl }));
    expect(session.current().scopes).not.toContain('read');
    // A call that asks for the narrower scope reuses the login.
    const narrower = await authenticate(
      wide,
      options({ store, interactive: false, scopes: ['read'] }),
    );
    expect(narrower.account).toBe(session.account);
    // A recipe that needs the narrower scope passes the check (and fails it without the data).
    const recipe = defineServer({
      id: 'needs-read',
      transport: { kind: 'stdio', command: '/nonexistent/latchkey-needs-read' },
      scopes: ['read'],
    });
    const passed = await launchServer(recipe, session).catch((e: unknown) => e);
    expect(isLatchkeyError(passed, 'SERVER_SPAWN_FAILED')).toBe(true);
    const plain = await authenticate(
      testProvider(server, { scopes: ['openid', 'email', 'write'] }, 'no-implies'),
      options({ store, openUrl: unattendedUser().openUrl }),
    );
    const refused = await launchServer(recipe, plain).catch((e: unknown) => e);
    expect(isLatchkeyError(refused, 'INSUFFICIENT_SCOPE')).toBe(true);
    expect((refused as Error).message).toContain('"read"');
  });

  it('refuses a malformed scopeImplies with PROVIDER_CONFIG naming it', () => {
    const error = (() => {
      try {
        defineProvider({
          id: 'bad-implies',
          strategy: { kind: 'oauth', issuer: server.issuer, clientId: 'c' },
          scopeImplies: { write: 'read' as unknown as string[] },
        });
      } catch (e) {
        return e;
      }
    })();
    expect(isLatchkeyError(error, 'PROVIDER_CONFIG')).toBe(true);
    expect((error as Error).message).toContain('"scopeImplies.write"');
  });
});
