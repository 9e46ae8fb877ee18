import { authenticate, type JsonObject } from '@latchkey/core';
import { type LockOptionsWithCheck, SETTLED_WHILE_WAITING } from '@latchkey/core/store';
import {
  startAuthServer,
  startPostgres,
  type TestAuthServer,
  type TestPostgres,
} from '@latchkey/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockChannel } from '../src/advisory-locks.js';
import { type PostgresStore, postgresStore } from '../src/index.js';
import { freshSchema, newKey, signInUnattended, testProvider } from './helpers.js';

let server: TestPostgres;
let auth: TestAuthServer;
const key = newKey();
const pools: pg.Pool[] = [];

beforeAll(async () => {
  [server, auth] = await Promise.all([startPostgres(), startAuthServer()]);
});
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end().catch(() => {})));
  await Promise.all([server?.stop(), auth?.close()]);
});

/**
 * A pool of the test server that counts the row reads made through it; `onRead`, when
 * given, is handed each read's answer and may hold it back.
 */
function countingPool(onRead?: (answer: Promise<unknown>) => Promise<unknown>): {
  pool: pg.Pool;
  reads: () => number;
} {
  const pool = new pg.Pool({ connectionString: server.connectionString });
  pools.push(pool);
  let reads = 0;
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
    const answer = query(...args);
    if (typeof args[0] !== 'string' || !args[0].startsWith('SELECT version, value')) return answer;
    reads += 1;
    return onRead ? onRead(answer) : answer;
  };
  return { pool, reads: () => reads };
}

/** Lock options with the check core's sessions pass: settled once the key holds `wanted`. */
function waitingFor(
  store: PostgresStore,
  storeKey: string,
  wanted: string,
): LockOptionsWithCheck<JsonObject> {
  return {
    timeoutMs: 10_000,
    [SETTLED_WHILE_WAITING]: async (read) => {
      const value = await (read ? read() : store.get(storeKey));
      return value?.v === wanted ? value : undefined;
    },
  };
}

/** A promise and what opens it. */
function gate(): { passed: Promise<void>; open: () => void } {
  let open = () => {};
  const passed = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { passed, open };
}

/**
 * Takes the lock on `k` in `holder`, reads the key, writes `value` once `write` opens,
 * then holds the lock until `release` opens (at once without one).
 */
function holdAndWrite(
  holder: PostgresStore,
  k: string,
  value: JsonObject,
  write: Promise<void>,
  release?: Promise<void>,
): Promise<void> {
  return holder.lock(k, async () => {
    await holder.get(k);
    await write;
    await holder.set(k, value);
    await release;
  });
}

/** Two stores on one schema, as two processes have: the waiter's reads are counted. */
function storesOf(schema: string): {
  waiter: PostgresStore;
  holder: PostgresStore;
  reads: () => number;
} {
  const counted = countingPool();
  return {
    waiter: postgresStore({ pool: counted.pool, schema, encryption: key }),
    holder: postgresStore({ connectionString: server.connectionString, schema, encryption: key }),
    reads: counted.reads,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms),
    ),
  ]);
}

describe('the handoff of a write under the lock to the processes waiting for it', () => {
  it('wakes a waiter as the write commits, with the row in the NOTIFY: it reads nothing and never takes the lock', async () => {
    const { waiter, holder, reads } = storesOf(freshSchema('handoff'));
    try {
      await holder.set('k', { v: 'old' });
      // As a session does when it loads the login: a notified row must be newer than this.
      expect(await waiter.get('k')).toEqual({ v: 'old' });
      // Connected and listening, so that its attempt at the lock below is quick.
      await waiter.lock('warm-up', async () => {});
      const write = gate();
      const release = gate();
      const held = holdAndWrite(
        holder,
        'k',
        { v: 'new', secret: 'canary-handoff' },
        write.passed,
        release.passed,
      );
      await sleep(50);
      let entered = false;
      const waiting = waiter.lock(
        'k',
        async () => {
          entered = true;
        },
        waitingFor(waiter, 'k', 'new'),
      );
      // The waiter's own attempt at the lock has failed by now; it waits.
      await sleep(100);
      const readsBefore = reads();
      write.open();
      // Settled while the holder still holds the lock: woken by the write, not the unlock.
      const settled = await withTimeout(waiting, 2_000, 'the waiter did not settle');
      expect(settled).toEqual({ v: 'new', secret: 'canary-handoff' });
      expect(entered).toBe(false);
      expect(reads() - readsBefore).toBe(0);
      release.open();
      await held;
    } finally {
      await waiter.close();
      await holder.close();
    }
  });

  it("a core session waiting for another process's refresh takes the new tokens from the NOTIFY: no read, no lock, no token request", async () => {
    const { waiter, holder, reads } = storesOf(freshSchema('session'));
    try {
      await signInUnattended(auth, holder);
      const [login] = await holder.list('credentials/test-as/');
      const events: string[] = [];
      const onEvent = (event: { type: string }) => events.push(event.type);
      const watched = await authenticate(testProvider(auth), {
        store: waiter,
        interactive: false,
        onEvent,
      });
      await waiter.lock('warm-up', async () => {});
      const write = gate();
      const release = gate();
      // Another process's refresh, as it stores its result: new tokens, a day to live.
      const held = holder.lock(login as string, async () => {
        const record = (await holder.get(login as string)) as JsonObject;
        await write.passed;
        await holder.set(login as string, {
          ...record,
          accessToken: 'refreshed-elsewhere',
          expiresAt: Date.now() + 86_400_000,
        });
        await release.passed;
      });
      await sleep(50);
      auth.resetCounts();
      const fresh = watched.fresh({ minValidityMs: 7_200_000 });
      await sleep(100);
      const readsBefore = reads();
      write.open();
      const credentials = await withTimeout(fresh, 2_000, 'the session did not settle');
      expect(credentials.accessToken.reveal()).toBe('refreshed-elsewhere');
      expect(reads() - readsBefore).toBe(0);
      expect(events).toContain('credentials_adopted');
      expect(events).not.toContain('token_refreshed');
      expect(auth.counts().token.refresh_token ?? 0).toBe(0);
      release.open();
      await held;
    } finally {
      await waiter.close();
      await holder.close();
    }
  });

  it('a read from outside fn that answers after a write under the lock does not make the next write a conflict', async () => {
    // A pool whose next row read runs at once but answers only when `answer` opens.
    let delayNext: Promise<void> | undefined;
    const { pool } = countingPool((result) => {
      const delay = delayNext;
      if (!delay) return result;
      delayNext = undefined;
      return result.then(async (value) => {
        await delay;
        return value;
      });
    });
    const store = postgresStore({ pool, schema: freshSchema('outside'), encryption: key });
    try {
      await store.set('k', { v: 'one' });
      const answer = gate();
      const outside = await store.lock('k', async () => {
        expect(await store.get('k')).toEqual({ v: 'one' });
        delayNext = answer.passed;
        // A session looking the login up meanwhile: it reads version 1.
        const lookup = store.get('k');
        await sleep(50);
        await store.set('k', { v: 'two' });
        answer.open();
        const seen = await lookup;
        // The write after it still checks against version 2, its own, and goes through.
        await store.set('k', { v: 'three' });
        return seen;
      });
      expect(outside).toEqual({ v: 'one' });
      expect(await store.get('k')).toEqual({ v: 'three' });
    } finally {
      await store.close();
    }
  });

  it('sends the row as the table holds it, never the plaintext, on the table channel', async () => {
    const schema = freshSchema('payload');
    const holder = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    const listener = new pg.Client({ connectionString: server.connectionString });
    await listener.connect();
    try {
      await holder.list();
      const payloads: string[] = [];
      listener.on('notification', (message) => {
        if (message.payload !== undefined) payloads.push(message.payload);
      });
      await listener.query(`LISTEN "${lockChannel(schema, 'latchkey_credentials')}"`);
      await holder.lock('k', async () => {
        await holder.get('k');
        await holder.set('k', { accessToken: 'canary-plaintext-token' });
      });
      const deadline = Date.now() + 2_000;
      while (payloads.length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // One at the write's commit, one at the unlock.
      expect(payloads).toHaveLength(2);
      const [row] = await server.query<{
        version: string;
        value: Buffer;
        data_key: Buffer;
        key_id: string;
      }>(
        `SELECT version::text AS version, value, data_key, key_id FROM "${schema}".latchkey_credentials WHERE key = 'k'`,
      );
      const [lockId, version, value, dataKey, tag, keyId] = (payloads[0] as string).split(' ');
      expect(payloads[1]).toBe(lockId);
      expect(version).toBe(row?.version);
      expect(value).toBe(row?.value.toString('base64'));
      expect(dataKey).toBe(row?.data_key.toString('base64'));
      expect(Buffer.from(tag as string, 'base64')).toHaveLength(32);
      expect(keyId).toBe(row?.key_id);
      for (const payload of payloads) {
        expect(payload).not.toContain('canary-plaintext-token');
        expect(payload).not.toContain(Buffer.from('canary-plaintext-token').toString('base64'));
        expect(payload).not.toContain(key.toString('base64'));
      }
    } finally {
      await listener.end();
      await holder.close();
    }
  });

  it('takes no replayed or forged notification: the waiter reads the row instead, and waits on', async () => {
    const schema = freshSchema('replay');
    const { waiter, holder, reads } = storesOf(schema);
    const other = new pg.Client({ connectionString: server.connectionString });
    await other.connect();
    try {
      const channel = lockChannel(schema, 'latchkey_credentials');
      await holder.set('k', { v: 'first' });
      // The waiter last read the login at 'first'; the holder then writes twice.
      expect(await waiter.get('k')).toEqual({ v: 'first' });
      const captured: string[] = [];
      other.on('notification', (message) => {
        if (message.payload?.includes(' ')) captured.push(message.payload);
      });
      await other.query(`LISTEN "${channel}"`);
      await holdAndWrite(holder, 'k', { v: 'second' }, Promise.resolve());
      await holdAndWrite(holder, 'k', { v: 'third' }, Promise.resolve());
      await waiter.lock('warm-up', async () => {});
      const write = gate();
      const held = holdAndWrite(holder, 'k', { v: 'fourth' }, write.passed);
      await sleep(50);
      let settled = false;
      const notThird: LockOptionsWithCheck<JsonObject> = {
        timeoutMs: 10_000,
        [SETTLED_WHILE_WAITING]: async (read) => {
          const value = await (read ? read() : waiter.get('k'));
          return value?.v === 'third' ? undefined : value;
        },
      };
      const waiting = waiter
        .lock('k', async () => 'took the lock', notThird)
        .finally(() => {
          settled = true;
        });
      await sleep(50);
      const second = captured.find((p) => p.split(' ')[1] === '2') as string;
      expect(second).toBeDefined();
      const parts = second.split(' ');
      const readsBefore = reads();
      // A genuine notification, newer than what the waiter read itself but older than the
      // row at its attempt at the lock, sent again; then the same row claimed as the
      // successor of that row, and as a far newer version.
      for (const version of ['2', '4', '99']) {
        await other.query('SELECT pg_notify($1, $2)', [
          channel,
          [parts[0], version, ...parts.slice(2)].join(' '),
        ]);
      }
      const deadline = Date.now() + 2_000;
      while (reads() - readsBefore < 3 && Date.now() < deadline) await sleep(10);
      // Each was read instead (a fallback poll may add a read of its own).
      expect(reads() - readsBefore).toBeGreaterThanOrEqual(3);
      expect(settled).toBe(false);
      const readsAtWrite = reads();
      write.open();
      expect(await withTimeout(waiting, 2_000, 'the waiter did not settle')).toEqual({
        v: 'fourth',
      });
      expect(reads() - readsAtWrite).toBe(0);
      await held;
    } finally {
      await other.end();
      await waiter.close();
      await holder.close();
    }
  });

  it('wakes a waiter without the row when it is too large for a notification: the waiter reads it', async () => {
    const { waiter, holder, reads } = storesOf(freshSchema('large'));
    try {
      await holder.set('k', { v: 'old' });
      expect(await waiter.get('k')).toEqual({ v: 'old' });
      await waiter.lock('warm-up', async () => {});
      const write = gate();
      const release = gate();
      const large = 'x'.repeat(12_000);
      const held = holdAndWrite(holder, 'k', { v: 'new', large }, write.passed, release.passed);
      await sleep(50);
      const waiting = waiter.lock('k', async () => 'took the lock', waitingFor(waiter, 'k', 'new'));
      await sleep(100);
      const readsBefore = reads();
      write.open();
      expect(await withTimeout(waiting, 2_000, 'the waiter did not settle')).toEqual({
        v: 'new',
        large,
      });
      expect(reads() - readsBefore).toBe(1);
      release.open();
      await held;
    } finally {
      await waiter.close();
      await holder.close();
    }
  });

  it('hands the first get under the lock the row read with it: what the last holder wrote, unread again', async () => {
    const { waiter: mine, holder: theirs, reads } = storesOf(freshSchema('prefetch'));
    try {
      await theirs.set('k', { v: 1 });
      await mine.lock('warm-up', async () => {});
      const write = gate();
      const held = holdAndWrite(theirs, 'k', { v: 2 }, write.passed);
      await sleep(50);
      // No settled check: this waiter takes the lock once the holder has written and let go.
      const mineDone = mine.lock('k', async () => {
        const readsBefore = reads();
        const first = await mine.get('k');
        const firstReads = reads() - readsBefore;
        // A later get reads the row itself.
        const second = await mine.get('k');
        // The version seen with the lock is the one compared on write.
        await mine.set('k', { v: 3 });
        return { first, firstReads, second, reads: reads() - readsBefore };
      });
      write.open();
      await held;
      expect(await mineDone).toEqual({
        first: { v: 2 },
        firstReads: 0,
        second: { v: 2 },
        reads: 1,
      });
      expect(await theirs.get('k')).toEqual({ v: 3 });
      // A missing row comes with the lock too, and a write after it creates the row only if still missing.
      await mine.lock('gone', async () => {
        expect(await mine.get('gone')).toBeUndefined();
        await theirs.set('gone', { v: 'theirs' });
        await expect(mine.set('gone', { v: 'mine' })).rejects.toMatchObject({
          code: 'STORE_CONFLICT',
        });
      });
      expect(await theirs.get('gone')).toEqual({ v: 'theirs' });
    } finally {
      await mine.close();
      await theirs.close();
    }
  });

  it("reads the row with the lock from the table's own schema, whatever the pool's search_path", async () => {
    const schema = freshSchema('path');
    await server.query(`CREATE SCHEMA "${schema}"`);
    const pool = new pg.Pool({ connectionString: server.connectionString });
    pools.push(pool);
    // The host's pool finds the table through its search_path; the lock connection has none of it.
    pool.on('connect', (client) => {
      client.query(`SET search_path TO "${schema}"`).catch(() => {});
    });
    const store = postgresStore({ pool, encryption: key });
    try {
      await store.set('k', { v: 'in its schema' });
      expect(
        await server.query(`SELECT count(*)::int AS n FROM "${schema}".latchkey_credentials`),
      ).toEqual([{ n: 1 }]);
      expect(await store.lock('k', () => store.get('k'))).toEqual({ v: 'in its schema' });
    } finally {
      await store.close();
    }
  });

  it('reads the row with the lock for keys that need quoting in SQL', async () => {
    const schema = freshSchema('quote');
    const store = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    try {
      const hostile = `credentials/x/it's \\' "; DROP TABLE latchkey_credentials; --`;
      await store.set(hostile, { v: 'kept' });
      expect(await store.lock(hostile, () => store.get(hostile))).toEqual({ v: 'kept' });
      expect(await store.list()).toEqual([hostile]);
    } finally {
      await store.close();
    }
  });
});
