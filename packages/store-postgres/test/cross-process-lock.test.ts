import { startPostgres, type TestPostgres } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresStore } from '../src/index.js';
import {
  type Child,
  expectCode,
  freshSchema,
  killAll,
  newKey,
  startChild,
  thrown,
} from './helpers.js';

let server: TestPostgres;
const key = newKey();
const children: Child[] = [];
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// The store's fallback poll is 200-300 ms: a waiter woken by it takes at least this long.
const POLL_FLOOR_MS = 200;

beforeAll(async () => {
  server = await startPostgres();
  process.env.LATCHKEY_TEST_KEY = key.toString('base64');
});
afterAll(async () => {
  await killAll(children);
  await server?.stop();
});

function child(args: string[]): Child {
  const started = startChild(args);
  children.push(started);
  return started;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

describe('lock() across processes', () => {
  it('never lets two processes hold one key at once, and hands it over on NOTIFY', async () => {
    const schema = freshSchema('contend');
    // Migrated before the children start, so they all start even.
    const store = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    await store.list();
    await store.close();
    const contenders = Array.from({ length: 4 }, () =>
      child(['contend', server.connectionString, schema, 'credentials/shared', '10', '20']),
    );
    await Promise.all(contenders.map((c) => c.next('ready')));
    for (const c of contenders) c.send('go');
    const reports = await Promise.all(contenders.map((c) => c.next('done')));
    for (const c of contenders) expect(await c.exited).toBe(0);
    const intervals = reports
      .flatMap((r) => r.intervals as { asked: number; enter: number; exit: number }[])
      .sort((a, b) => a.enter - b.enter);
    expect(intervals).toHaveLength(40);
    const handoffs: number[] = [];
    for (let i = 1; i < intervals.length; i += 1) {
      const before = intervals[i - 1]!;
      const after = intervals[i]!;
      expect(
        after.enter,
        `holder ${i} entered ${(before.exit - after.enter).toFixed(1)} ms before holder ${i - 1} left`,
      ).toBeGreaterThanOrEqual(before.exit);
      // A holder that was already waiting when the previous one left: how fast it got in.
      if (after.asked < before.exit) handoffs.push(after.enter - before.exit);
    }
    expect(handoffs.length).toBeGreaterThan(10);
    // Woken by the NOTIFY, not by the poll; generous, for a loaded machine.
    expect(median(handoffs)).toBeLessThan(POLL_FLOOR_MS / 4);
  }, 60_000);

  it('gives a waiter the lock of a holder killed with SIGKILL within the fallback poll', async () => {
    const schema = freshSchema('killed');
    const holder = child(['hold', server.connectionString, schema, 'credentials/k']);
    await holder.next('locked');
    const waiter = child(['wait', server.connectionString, schema, 'credentials/k']);
    await waiter.next('waiting');
    await sleep(500);
    expect(waiter.lines.some((l) => l.event === 'acquired')).toBe(false);
    const killedAt = now();
    holder.process.kill('SIGKILL');
    const acquired = await waiter.next('acquired');
    const waited = (acquired.at as number) - killedAt;
    expect(waited).toBeGreaterThan(0);
    // The server ends the dead holder's session (and its locks) at once; no NOTIFY comes,
    // so the waiter finds out at its next poll (200-300 ms), well within this bound.
    expect(waited).toBeLessThan(1_500);
    expect(await waiter.exited).toBe(0);
  }, 60_000);

  it('wakes a waiter as soon as the holder in another process releases', async () => {
    const schema = freshSchema('wake');
    const store = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    const holder = child(['hold', server.connectionString, schema, 'credentials/k']);
    try {
      await holder.next('locked');
      const waits: number[] = [];
      for (let i = 0; i < 10; i += 1) {
        const acquiring = store.lock('credentials/k', async () => now(), { timeoutMs: 10_000 });
        // Past the first tries, so a poll timer is running when the release comes.
        await sleep(120);
        holder.send('pass');
        const releasing = await holder.next('releasing');
        waits.push((await acquiring) - (releasing.at as number));
        // The holder's turn again, once this process let go.
        holder.send('take');
        await holder.next('locked');
      }
      // A wake-up by the poll would take 0-300 ms, most often over 100 ms.
      expect(
        waits.filter((w) => w < POLL_FLOOR_MS / 2).length,
        `waits ${waits.map((w) => w.toFixed(1)).join(', ')} ms`,
      ).toBeGreaterThanOrEqual(8);
      holder.send('release');
      expect(await holder.exited).toBe(0);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('times out with STORE_LOCKED and stops at an abort while another process holds the key', async () => {
    const schema = freshSchema('timeout');
    const holder = child(['hold', server.connectionString, schema, 'credentials/k']);
    await holder.next('locked');
    const store = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    try {
      let ran = false;
      const started = Date.now();
      const timedOut = await thrown(() =>
        store.lock(
          'credentials/k',
          async () => {
            ran = true;
          },
          { timeoutMs: 400 },
        ),
      );
      expectCode(timedOut, 'STORE_LOCKED');
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      expect((timedOut as Error).message).toMatch(/"credentials\/k".*another process/);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const abortedAt = Date.now();
      expectCode(
        await thrown(() =>
          store.lock(
            'credentials/k',
            async () => {
              ran = true;
            },
            { signal: controller.signal },
          ),
        ),
        'AUTH_CANCELLED',
      );
      expect(Date.now() - abortedAt).toBeLessThan(1_000);
      expect(ran).toBe(false);
      holder.send('release');
      expect(await holder.exited).toBe(0);
      expect(await store.lock('credentials/k', async () => 'free', { timeoutMs: 5_000 })).toBe(
        'free',
      );
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses writes that could overwrite a change after its lock connection was lost', async () => {
    const schema = freshSchema('lost');
    const mine = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    const theirs = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    try {
      await mine.set('read', { v: 1 });
      await mine.set('blind', { v: 1 });
      const outcome = await mine.lock('read', async () => {
        expect(await mine.get('read')).toEqual({ v: 1 });
        // The server ends the lock connection (a failover, an idle timeout, an admin).
        await server.query(
          "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted",
        );
        await sleep(200);
        // Another process takes the lock, now free, and writes.
        await theirs.lock('read', async () => theirs.set('read', { v: 'theirs' }), {
          timeoutMs: 2_000,
        });
        const conflict = await thrown(() => mine.set('read', { v: 'mine' }));
        expectCode(conflict, 'STORE_CONFLICT');
        expectCode(await thrown(() => mine.delete('read')), 'STORE_CONFLICT');
        return 'done';
      });
      expect(outcome).toBe('done');
      expect(await mine.get('read')).toEqual({ v: 'theirs' });

      // Written without a read under the lock: nothing tells whether it is safe, so refused.
      await mine.lock('blind', async () => {
        await server.query(
          "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted",
        );
        await sleep(200);
        const refused = await thrown(() => mine.set('blind', { v: 'mine' }));
        expectCode(refused, 'STORE_UNAVAILABLE');
        expect((refused as Error).message).toMatch(/lock was lost/);
      });
      expect(await mine.get('blind')).toEqual({ v: 1 });
      // The store opens a new lock connection for the next lock.
      expect(
        await mine.lock('blind', async () => {
          await mine.get('blind');
          await mine.set('blind', { v: 2 });
          return 'again';
        }),
      ).toBe('again');
      expect(await mine.get('blind')).toEqual({ v: 2 });
    } finally {
      await mine.close();
      await theirs.close();
    }
  });

  it('compares versions under the lock: a write between get and set is not overwritten', async () => {
    const schema = freshSchema('cas');
    const mine = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    const theirs = postgresStore({
      connectionString: server.connectionString,
      schema,
      encryption: key,
    });
    try {
      await mine.lock('k', async () => {
        expect(await mine.get('k')).toBeUndefined();
        // Another process writes without the lock (or after losing its own).
        await theirs.set('k', { v: 'theirs' });
        expectCode(await thrown(() => mine.set('k', { v: 'mine' })), 'STORE_CONFLICT');
        // Read again: the write goes through against what was read.
        expect(await mine.get('k')).toEqual({ v: 'theirs' });
        await mine.set('k', { v: 'mine' });
        await mine.set('k', { v: 'mine again' });
        await mine.delete('k');
        await mine.set('k', { v: 'recreated' });
      });
      expect(await theirs.get('k')).toEqual({ v: 'recreated' });
      expect(
        await server.query(`SELECT version::int FROM "${schema}".latchkey_credentials`),
      ).toEqual([{ version: 1 }]);
    } finally {
      await mine.close();
      await theirs.close();
    }
  });

  it('a lock taken again inside its own fn waits for itself until its timeout (STORE_LOCKED), then the outer lock is released; nested locks on other keys work', async () => {
    const store = postgresStore({
      connectionString: server.connectionString,
      schema: freshSchema('re'),
      encryption: key,
    });
    try {
      const error = await thrown(() =>
        store.lock('k', () => store.lock('k', async () => {}, { timeoutMs: 300 })),
      );
      expectCode(error, 'STORE_LOCKED');
      expect(await store.lock('k', async () => 'free again', { timeoutMs: 2_000 })).toBe(
        'free again',
      );
      expect(await store.lock('k', () => store.lock('other', async () => 'nested'))).toBe('nested');
    } finally {
      await store.close();
    }
  });
});
