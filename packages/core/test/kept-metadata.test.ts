// A login of a provider whose metadata is discovered keeps that metadata, so a refresh
// or a logout in a new process goes straight to the token endpoint, without a
// discovery request first; metadata that went out of date is discovered anew.
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, isLatchkeyError, type LatchkeyEvent, memoryStore } from '../src/index.js';
import { options, testProvider, unattendedUser } from './helpers.js';

let server: TestAuthServer;

beforeAll(async () => {
  server = await startAuthServer();
});
afterAll(async () => {
  await server?.close();
});

/** A `fetch` that counts discovery requests. */
function counting() {
  const seen = { discovery: 0 };
  const counted: typeof fetch = (input, init) => {
    if (String(input instanceof Request ? input.url : input).includes('/.well-known/')) {
      seen.discovery += 1;
    }
    return fetch(input, init);
  };
  return { seen, fetch: counted };
}

describe('metadata kept with a login', () => {
  it('lets a new process refresh and log out without discovering the server again', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    await authenticate(provider, options({ store, openUrl: unattendedUser().openUrl }));
    const [key] = await store.list('credentials/test-as/');
    const record = (await store.get(key as string)) as { engine?: Record<string, unknown> };
    expect(record.engine).toMatchObject({
      kind: 'oauth',
      issuer: server.issuer,
      metadata: { issuer: server.issuer, token_endpoint: expect.stringMatching(/^http/) },
    });

    // A new process: its own engine, nothing discovered yet.
    const { seen, fetch } = counting();
    const events: LatchkeyEvent[] = [];
    const session = await authenticate(
      provider,
      options({ store, interactive: false, fetch, onEvent: (e) => events.push(e) }),
    );
    server.resetCounts();
    const before = session.current();
    const after = await session.refresh();
    expect(after.accessToken.reveal()).not.toBe(before.accessToken.reveal());
    expect(server.counts().token.refresh_token).toBe(1);
    expect(seen.discovery).toBe(0);
    expect(events.map((e) => e.type)).not.toContain('discovery_completed');
    const result = await session.logout();
    expect(result.revoked).toBe(true);
    expect(seen.discovery).toBe(0);
  });

  it('discovers anew after metadata that went out of date failed once', async () => {
    const store = memoryStore();
    const provider = testProvider(server);
    await authenticate(provider, options({ store, openUrl: unattendedUser().openUrl }));
    const [key] = await store.list('credentials/test-as/');
    const record = (await store.get(key as string)) as Record<string, unknown> & {
      engine: { metadata: Record<string, unknown> };
    };
    // The server moved its token endpoint since the sign-in.
    await store.set(key as string, {
      ...record,
      engine: {
        ...record.engine,
        metadata: { ...record.engine.metadata, token_endpoint: 'http://127.0.0.1:9/token' },
      },
    });
    const { seen, fetch } = counting();
    const session = await authenticate(provider, options({ store, interactive: false, fetch }));
    const failed = await session.refresh().catch((e: unknown) => e);
    expect(isLatchkeyError(failed, 'NETWORK_ERROR'), String(failed)).toBe(true);
    expect(seen.discovery).toBe(0);
    // The next attempt discovers, refreshes, and keeps the new metadata.
    await session.refresh();
    expect(seen.discovery).toBeGreaterThan(0);
    const updated = (await store.get(key as string)) as {
      engine: { metadata: { token_endpoint: string } };
    };
    expect(updated.engine.metadata.token_endpoint).not.toBe('http://127.0.0.1:9/token');
  });
});
