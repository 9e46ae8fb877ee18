import { randomBytes } from 'node:crypto';
import type { Session } from '@latchkey/core';
import {
  startAuthServer,
  startPostgres,
  type TestAuthServer,
  type TestPostgres,
} from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresStore, postgresStore } from '../src/index.js';
import {
  everythingOf,
  expectCode,
  freshSchema,
  newKey,
  signInUnattended,
  thrown,
} from './helpers.js';

const PASSWORD = `canary-password-${randomBytes(6).toString('hex')}`;
const CANARY = `canary-token-${randomBytes(6).toString('hex')}`;
let server: TestPostgres;
let auth: TestAuthServer;
const key = newKey();
const errors: unknown[] = [];
const LOGIN = 'credentials/test-as/alice%40example.test';

beforeAll(async () => {
  [server, auth] = await Promise.all([startPostgres(), startAuthServer({ accessTokenTtl: 600 })]);
});
afterAll(async () => {
  await auth?.close();
  await server?.stop();
});

/** A store whose connection string carries a password (trust authentication ignores it). */
function newStore(schema: string): PostgresStore {
  const connectionString = server.connectionString.replace('postgres@', `postgres:${PASSWORD}@`);
  return postgresStore({ connectionString, schema, encryption: key });
}

async function unavailable(fn: () => unknown): Promise<Error> {
  const error = await thrown(fn);
  errors.push(error);
  expectCode(error, 'STORE_UNAVAILABLE');
  expect((error as Error).message).toMatch(/Retry once the database is reachable again/);
  return error as Error;
}

async function everyOperationUnavailable(store: PostgresStore): Promise<void> {
  await unavailable(() => store.get('k'));
  await unavailable(() => store.set('k', { accessToken: CANARY }));
  await unavailable(() => store.delete('k'));
  await unavailable(() => store.list());
  await unavailable(() => store.list('k'));
  let ran = false;
  await unavailable(() =>
    store.lock('k', async () => {
      ran = true;
    }),
  );
  expect(ran).toBe(false);
}

function signIn(store: PostgresStore): Promise<Session> {
  return signInUnattended(auth, store);
}

describe('the database stopped or restarted', () => {
  it('fails every operation with STORE_UNAVAILABLE while it is down, and recovers after', async () => {
    const store = newStore(freshSchema('down'));
    try {
      await store.set('k', { v: 1 });
      await store.lock('k', async () => {});
      await server.pause('fast');
      try {
        await everyOperationUnavailable(store);
      } finally {
        await server.resume();
      }
      expect(await store.get('k')).toEqual({ v: 1 });
      expect(await store.lock('k', async () => store.list())).toEqual(['k']);
      await store.set('k', { v: 2 });
      expect(await store.get('k')).toEqual({ v: 2 });
    } finally {
      await store.close();
    }
  }, 60_000);

  it('fails with STORE_UNAVAILABLE after the server was killed with SIGKILL, and recovers after', async () => {
    const store = newStore(freshSchema('killed'));
    try {
      await store.set('k', { v: 1 });
      await store.lock('k', async () => {});
      await server.kill();
      try {
        await everyOperationUnavailable(store);
      } finally {
        await server.resume();
      }
      expect(await store.lock('k', async () => store.get('k'))).toEqual({ v: 1 });
    } finally {
      await store.close();
    }
  }, 60_000);

  it("fails a session's fresh() with STORE_UNAVAILABLE without dropping the login, then refreshes once", async () => {
    const store = newStore(freshSchema('session'));
    try {
      const session = await signIn(store);
      const before = session.current().accessToken.reveal();
      await server.pause('immediate');
      try {
        auth.resetCounts();
        const error = await thrown(() => session.fresh({ minValidityMs: 3_600_000 }));
        errors.push(error);
        expectCode(error, 'STORE_UNAVAILABLE');
        // Nothing was asked of the authorization server: the refresh token is not spent.
        expect(auth.counts().token.refresh_token ?? 0).toBe(0);
      } finally {
        await server.resume();
      }
      expect(await store.list('credentials/test-as/')).toEqual([LOGIN]);
      const fresh = await session.fresh({ minValidityMs: 3_600_000 });
      expect(fresh.accessToken.reveal()).not.toBe(before);
      expect(auth.counts().token.refresh_token).toBe(1);
      expect((await store.get(LOGIN))?.accessToken).toBe(fresh.accessToken.reveal());
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a database that goes down between the token request and the write loses nothing: the next call saves the rotated tokens', async () => {
    let armed = false;
    // The database stops once the refresh was answered, before the answer reaches the session.
    const rotating = await startAuthServer({
      accessTokenTtl: 600,
      middleware: [
        async (ctx, next) => {
          await next();
          if (armed && ctx.method === 'POST' && ctx.path === '/token' && ctx.status === 200) {
            armed = false;
            await server.pause('immediate');
          }
        },
      ],
    });
    const store = newStore(freshSchema('between'));
    try {
      const session = await signInUnattended(rotating, store);
      rotating.resetCounts();
      armed = true;
      let error: unknown;
      try {
        error = await thrown(() => session.refresh());
      } finally {
        await server.resume();
      }
      errors.push(error);
      expectCode(error, 'STORE_UNAVAILABLE');
      expect((error as Error).message).toMatch(/keeps it and saves it on the session's next call/);
      const rotated = session.current();
      expect((await store.get(LOGIN))?.accessToken).not.toBe(rotated.accessToken.reveal());
      const fresh = await session.fresh();
      expect(fresh.accessToken.reveal()).toBe(rotated.accessToken.reveal());
      expect((await store.get(LOGIN))?.accessToken).toBe(rotated.accessToken.reveal());
      // The stored refresh token is the one the server rotated to: it refreshes again.
      const next = await session.refresh();
      expect(next.accessToken.reveal()).not.toBe(rotated.accessToken.reveal());
      expect(rotating.counts().token.refresh_token).toBe(2);
      expect(await store.list('credentials/test-as/')).toEqual([LOGIN]);
    } finally {
      await store.close();
      await rotating.close();
    }
  }, 60_000);

  it('a write under a lock while the database is down fails and changes nothing; the lock works after', async () => {
    const store = newStore(freshSchema('midlock'));
    try {
      await store.set('k', { v: 1 });
      const outcome = await thrown(() =>
        store.lock('k', async () => {
          expect(await store.get('k')).toEqual({ v: 1 });
          await server.pause('immediate');
          await unavailable(() => store.set('k', { accessToken: CANARY }));
          await unavailable(() => store.delete('k'));
          throw new Error('given up');
        }),
      );
      expect((outcome as Error).message).toBe('given up');
      await server.resume();
      expect(await store.get('k')).toEqual({ v: 1 });
      expect(await store.lock('k', async () => 'again', { timeoutMs: 5_000 })).toBe('again');
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a write under a lock lost to a restart goes through when no one changed the row meanwhile', async () => {
    // The rotated refresh token a holder got must not be thrown away: the version check
    // (not the lock, which the restart released) says the write is safe.
    const store = newStore(freshSchema('restarted'));
    try {
      await store.set('k', { v: 1 });
      await store.lock('k', async () => {
        expect(await store.get('k')).toEqual({ v: 1 });
        await server.restart('fast');
        await store.set('k', { v: 2 });
      });
      expect(await store.get('k')).toEqual({ v: 2 });
      expect(await store.lock('k', async () => store.get('k'))).toEqual({ v: 2 });
    } finally {
      await store.close();
    }
  }, 60_000);

  it('never shows the password of the connection string or a secret value in an error', () => {
    expect(errors.length).toBeGreaterThan(10);
    const text = errors.map(everythingOf).join('\n');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain(key.toString('base64'));
  });
});
