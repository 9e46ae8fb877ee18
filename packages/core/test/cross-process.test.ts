import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, fileStore } from '../src/index.js';
import { options, testProvider, unattendedUser } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/refresh-child.ts', import.meta.url));
const storeChild = fileURLToPath(new URL('./fixtures/store-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));

let server: TestAuthServer;
let directory: string;

beforeAll(async () => {
  server = await startAuthServer({ accessTokenTtl: 600 });
  directory = await mkdtemp(join(tmpdir(), 'latchkey-xproc-'));
});
afterAll(async () => {
  await server?.close();
  await rm(directory, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', child, ...args],
      { cwd: root, timeout: 45_000 },
      (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout }),
    );
  });
}

/**
 * Starts `processes` children on the login stored in `dir`; once every one holds it,
 * lets them all call fresh() `calls` times at once. Returns the token hashes they got.
 */
async function freshTogether(dir: string, processes: number, calls: number): Promise<string[]> {
  const go = join(dir, 'go');
  const ready = Array.from({ length: processes }, (_, i) => join(dir, `ready-${i}`));
  const runs = ready.map((file) =>
    run([server.issuer, server.clients.public.clientId, dir, go, String(calls), file]),
  );
  // Every child holds the same stored login before any of them may refresh it.
  const deadline = Date.now() + 30_000;
  while (!ready.every((file) => existsSync(file)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await writeFile(go, '');
  const results = await Promise.all(runs);
  for (const r of results) expect(r, r.out).toMatchObject({ code: 0 });
  return results.flatMap((r) => (JSON.parse(r.out.trim()) as { hashes: string[] }).hashes);
}

describe('refresh across processes', () => {
  it('4 processes x 25 fresh() calls on one stored login make exactly one refresh request', async () => {
    const store = fileStore({ directory });
    await authenticate(testProvider(server), options({ store, openUrl: unattendedUser().openUrl }));
    server.resetCounts();
    const hashes = await freshTogether(directory, 4, 25);
    expect(new Set(hashes).size).toBe(1);
    expect(server.counts().token.refresh_token).toBe(1);
    expect(server.counts().token.authorization_code ?? 0).toBe(0);

    const stored = await store.get('credentials/test-as/alice%40example.test');
    const storedHash = createHash('sha256').update(String(stored?.accessToken)).digest('hex');
    expect(hashes[0]).toBe(storedHash);
  });

  it('a holder killed with the lock: 6 processes reach it at once, one refresh, 0 invalid_grant', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-xproc-killed-'));
    try {
      const store = fileStore({ directory: dir });
      await authenticate(
        testProvider(server),
        options({ store, openUrl: unattendedUser().openUrl }),
      );
      const [key] = await store.list('credentials/test-as/');
      // A process takes the login's refresh lock and is killed while it holds it.
      const holder = spawn(
        process.execPath,
        ['--import', 'tsx', storeChild, 'hold', dir, key as string, '2000'],
        {
          cwd: root,
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      await new Promise<void>((resolve, reject) => {
        holder.stdout?.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('locked')) resolve();
        });
        holder.once('exit', () => reject(new Error('the holder ended before it took the lock')));
      });
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('close', resolve));

      server.resetCounts();
      const hashes = await freshTogether(dir, 6, 5);
      // One of them took the dead holder's lock over and refreshed; the others adopted.
      expect(new Set(hashes).size).toBe(1);
      expect(server.counts().token.refresh_token).toBe(1);
      expect(await store.list('credentials/test-as/')).toEqual([key]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('a process waiting for the lock adopts a refresh stored meanwhile, without the lock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-xproc-adopt-'));
    const holder = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        storeChild,
        'hold',
        dir,
        'credentials/test-as/alice%40example.test',
        '2000',
      ],
      { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      const store = fileStore({ directory: dir });
      const session = await authenticate(
        testProvider(server),
        options({ store, openUrl: unattendedUser().openUrl }),
      );
      const [key] = await store.list('credentials/test-as/');
      // Another process holds the login's lock while it refreshes.
      await new Promise<void>((resolve, reject) => {
        holder.stdout?.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('locked')) resolve();
        });
        holder.once('exit', () => reject(new Error('the holder ended before it took the lock')));
      });
      server.resetCounts();
      const waiting = session.refresh();
      await new Promise((r) => setTimeout(r, 100));
      // What that process stores when its refresh lands.
      const record = (await store.get(key as string)) as Record<string, unknown>;
      await store.set(key as string, {
        ...record,
        accessToken: 'refreshed-by-the-lock-holder',
        expiresAt: Date.now() + 3_600_000,
      });
      const adopted = await waiting;
      expect(adopted.accessToken.reveal()).toBe('refreshed-by-the-lock-holder');
      // The holder still holds the lock, and nothing was asked of the server.
      expect(holder.exitCode).toBeNull();
      expect(server.counts().token.refresh_token ?? 0).toBe(0);
    } finally {
      holder.stdin?.write('release\n');
      await new Promise((resolve) => holder.once('close', resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
