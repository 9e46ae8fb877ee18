import { createHash } from 'node:crypto';
import type { CredentialStore } from '@latchkey/core';
import {
  startAuthServer,
  startPostgres,
  type TestAuthServer,
  type TestPostgres,
} from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresStore } from '../src/index.js';
import {
  type Child,
  freshSchema,
  killAll,
  newKey,
  signInUnattended,
  startChild,
} from './helpers.js';

let auth: TestAuthServer;
let database: TestPostgres;
const key = newKey();
const children: Child[] = [];
// Every failed token request the server answered: an invalid_grant would show here.
const tokenErrors: string[] = [];

beforeAll(async () => {
  [auth, database] = await Promise.all([
    startAuthServer({
      accessTokenTtl: 600,
      middleware: [
        async (ctx, next) => {
          await next();
          if (ctx.method === 'POST' && ctx.path === '/token' && ctx.status >= 400) {
            const body = ctx.body as { error?: string } | undefined;
            tokenErrors.push(body?.error ?? String(ctx.status));
          }
        },
      ],
    }),
    startPostgres(),
  ]);
  process.env.LATCHKEY_TEST_KEY = key.toString('base64');
});
afterAll(async () => {
  await killAll(children);
  await auth?.close();
  await database?.stop();
});

/** Signs alice in at `server` through its browser-less user, into `store`; returns the login's key. */
async function signIn(store: CredentialStore, server: TestAuthServer = auth): Promise<string> {
  await signInUnattended(server, store);
  const [login] = await store.list('credentials/test-as/');
  expect(login).toBe('credentials/test-as/alice%40example.test');
  return login as string;
}

/** Starts `count` children on the login, each calling fresh() `calls` times on every "go". */
function refreshers(
  schema: string,
  count: number,
  calls: number,
  server: TestAuthServer = auth,
  minValidityMs?: number,
): Child[] {
  return Array.from({ length: count }, () => {
    const child = startChild([
      'refresh',
      database.connectionString,
      schema,
      server.issuer,
      server.clients.public.clientId,
      String(calls),
      ...(minValidityMs === undefined ? [] : [String(minValidityMs)]),
    ]);
    children.push(child);
    return child;
  });
}

/** Lets every child call fresh() at once; returns the token hashes each got. */
async function freshTogether(group: Child[]): Promise<string[][]> {
  for (const child of group) child.send('go');
  const lines = await Promise.all(group.map((c) => c.next('fresh')));
  for (const line of lines) {
    expect(line, JSON.stringify(line)).not.toHaveProperty('error');
    // The store and the session leave promise hooks off in the host's process (no
    // AsyncLocalStorage, which turns them on for every promise on Node 20).
    expect(line.promiseHooks, 'promise hooks were turned on').toBe(false);
  }
  return lines.map((line) => line.hashes as string[]);
}

async function storedHash(store: CredentialStore, login: string): Promise<string> {
  const record = await store.get(login);
  return createHash('sha256').update(String(record?.accessToken)).digest('hex');
}

describe('refresh across processes on one postgresStore', () => {
  it('6 processes x 5 fresh() calls that need the login renewed (minValidityMs past its expiry) make one refresh request each time, 0 invalid_grant, promise hooks off', async () => {
    const schema = freshSchema('refresh');
    const store = postgresStore({
      connectionString: database.connectionString,
      schema,
      encryption: key,
    });
    try {
      const login = await signIn(store);
      const group = refreshers(schema, 6, 5);
      await Promise.all(group.map((c) => c.next('ready')));
      const seen = new Set<string>();
      for (let expiry = 1; expiry <= 3; expiry += 1) {
        auth.resetCounts();
        tokenErrors.length = 0;
        const hashes = await freshTogether(group);
        // Every call of every process got the one new token.
        expect(new Set(hashes.flat()).size).toBe(1);
        for (const h of hashes) expect(h).toHaveLength(1);
        expect(auth.counts().token.refresh_token).toBe(1);
        expect(tokenErrors).toEqual([]);
        const [hash] = hashes[0] as string[];
        expect(seen.has(hash as string)).toBe(false);
        seen.add(hash as string);
        expect(await storedHash(store, login)).toBe(hash);
        expect(await store.list('credentials/test-as/')).toEqual([login]);
      }
      for (const child of group) child.send('exit');
      for (const child of group) expect(await child.exited).toBe(0);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('6 processes calling fresh() after a real expiry (4 s tokens) make one refresh request per expiry', async () => {
    const short = await startAuthServer({ accessTokenTtl: 4 });
    const schema = freshSchema('expiry');
    const store = postgresStore({
      connectionString: database.connectionString,
      schema,
      encryption: key,
    });
    try {
      const login = await signIn(store, short);
      const group = refreshers(schema, 6, 3, short, 0);
      await Promise.all(group.map((c) => c.next('ready')));
      for (let expiry = 1; expiry <= 2; expiry += 1) {
        const expiresAt = (await store.get(login))?.expiresAt as number;
        expect(expiresAt).toBeGreaterThan(0);
        await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 100)));
        short.resetCounts();
        const hashes = await freshTogether(group);
        expect(new Set(hashes.flat()).size).toBe(1);
        expect(short.counts().token.refresh_token).toBe(1);
        expect(await store.list('credentials/test-as/')).toEqual([login]);
      }
      for (const child of group) child.send('exit');
      for (const child of group) expect(await child.exited).toBe(0);
    } finally {
      await store.close();
      await short.close();
    }
  }, 120_000);

  it('a holder killed mid-refresh with the lock: the others still refresh once, nothing dropped', async () => {
    const schema = freshSchema('killed');
    const store = postgresStore({
      connectionString: database.connectionString,
      schema,
      encryption: key,
    });
    try {
      const login = await signIn(store);
      const group = refreshers(schema, 6, 5);
      await Promise.all(group.map((c) => c.next('ready')));
      // A process takes the login's refresh lock and is killed while it holds it.
      const holder = startChild(['hold', database.connectionString, schema, login]);
      children.push(holder);
      await holder.next('locked');
      auth.resetCounts();
      tokenErrors.length = 0;
      const going = freshTogether(group);
      await new Promise((resolve) => setTimeout(resolve, 300));
      holder.process.kill('SIGKILL');
      const hashes = await going;
      expect(new Set(hashes.flat()).size).toBe(1);
      expect(auth.counts().token.refresh_token).toBe(1);
      expect(tokenErrors).toEqual([]);
      expect(await store.list('credentials/test-as/')).toEqual([login]);
      expect(await storedHash(store, login)).toBe(hashes[0]?.[0]);
      for (const child of group) child.send('exit');
      for (const child of group) expect(await child.exited).toBe(0);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('a session waiting for the lock adopts a refresh stored meanwhile, without the lock', async () => {
    const schema = freshSchema('adopt');
    const store = postgresStore({
      connectionString: database.connectionString,
      schema,
      encryption: key,
    });
    const holder = startChild([
      'hold',
      database.connectionString,
      schema,
      'credentials/test-as/alice%40example.test',
    ]);
    children.push(holder);
    try {
      const session = await signInUnattended(auth, store);
      const [login] = await store.list('credentials/test-as/');
      await holder.next('locked');
      auth.resetCounts();
      const waiting = session.refresh();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // What the holder's process stores when its refresh lands.
      const record = (await store.get(login as string)) as Record<string, unknown>;
      await store.set(login as string, {
        ...record,
        accessToken: 'refreshed-by-the-lock-holder',
        expiresAt: Date.now() + 3_600_000,
      });
      const adopted = await Promise.race([
        waiting,
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error('the waiting refresh did not adopt within 5 s')),
            5_000,
          ),
        ),
      ]);
      expect(adopted.accessToken.reveal()).toBe('refreshed-by-the-lock-holder');
      expect(holder.process.exitCode).toBeNull();
      expect(auth.counts().token.refresh_token ?? 0).toBe(0);
    } finally {
      holder.send('release');
      await holder.exited;
      await store.close();
    }
  }, 60_000);
});
