import { execFile } from 'node:child_process';
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

describe('refresh across processes', () => {
  it('4 processes x 25 fresh() calls on one stored login make exactly one refresh request', async () => {
    const store = fileStore({ directory });
    await authenticate(testProvider(server), options({ store, openUrl: unattendedUser().openUrl }));
    server.resetCounts();
    const go = join(directory, 'go');
    const ready = Array.from({ length: 4 }, (_, i) => join(directory, `ready-${i}`));
    const runs = ready.map((file) =>
      run([server.issuer, server.clients.public.clientId, directory, go, '25', file]),
    );
    // Every child holds the same stored login before any of them may refresh it.
    const deadline = Date.now() + 30_000;
    while (!ready.every((file) => existsSync(file)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await writeFile(go, '');
    const results = await Promise.all(runs);
    for (const r of results) expect(r, r.out).toMatchObject({ code: 0 });
    const hashes = results.flatMap(
      (r) => (JSON.parse(r.out.trim()) as { hashes: string[] }).hashes,
    );
    expect(new Set(hashes).size).toBe(1);
    expect(server.counts().token.refresh_token).toBe(1);
    expect(server.counts().token.authorization_code ?? 0).toBe(0);

    const stored = await store.get('credentials/test-as/alice%40example.test');
    const storedHash = createHash('sha256').update(String(stored?.accessToken)).digest('hex');
    expect(hashes[0]).toBe(storedHash);
  });
});
