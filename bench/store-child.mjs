// One process of the store benchmark, loading the built @latchkey/core and nothing else.
//   prefill <directory> <size>: writes <size> logins into fileStore({ directory }) with set().
//   measure <file|memory> <size> <directory> <calls>: opens the store (a memoryStore is
//     prefilled here with the same logins), then times, in this order, the first
//     authenticate() reuse, get() and set() of this process, then <calls> rounds of set()
//     (a token rotation of one login), get() and authenticate() reuse, and the longest
//     event-loop stall during each of STALL_SETS further set() calls, alternating with as
//     many bare write-and-sync calls of the same bytes (the floor).
// Prints one JSON line. The provider's issuer is never contacted: every fetch throws.
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasync, openSync, unlinkSync, write } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticate, defineProvider, fileStore, memoryStore } from '@latchkey/core';

const PROVIDERS = 4;
const SCOPES = ['openid', 'email', 'read'];
const STALL_SETS = 20;
const HOUR = 3_600_000;

const [mode, ...rest] = process.argv.slice(2);

const providerId = (i) => `bench-store-${i % PROVIDERS}`;
const accountOf = (i) => `user${String(i).padStart(5, '0')}@example.com`;
const keyOf = (i) => `credentials/${providerId(i)}/${encodeURIComponent(accountOf(i))}`;
const token = (bytes) => randomBytes(bytes).toString('base64url');

/** A record shaped like credentialsToRecord() writes for an OAuth login (no engine state). */
function record(i, now = Date.now()) {
  return {
    v: 1,
    providerId: providerId(i),
    account: accountOf(i),
    tokenType: 'bearer',
    accessToken: token(96),
    scopes: [...SCOPES],
    secrets: {},
    metadata: { email: accountOf(i), sub: `sub-${i}`, issuer: 'https://issuer.bench.invalid' },
    obtainedAt: now,
    refreshToken: token(32),
    // Far enough out that no reuse during the benchmark finds it expiring.
    expiresAt: now + 24 * HOUR,
  };
}

async function prefill(store, size) {
  for (let i = 0; i < size; i += 1) await store.set(keyOf(i), record(i));
}

/** Resolves with the longest gap between setImmediate() pings while `op` runs. */
async function longestStall(op) {
  let last = performance.now();
  let longest = 0;
  let running = true;
  const ping = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(ping);
  };
  setImmediate(ping);
  await op();
  running = false;
  const now = performance.now();
  return Math.max(longest, now - last);
}

async function measure(kind, size, directory, calls) {
  const store = kind === 'file' ? fileStore({ directory }) : memoryStore();
  if (kind === 'memory') await prefill(store, size);
  // One login of the first provider, in the middle of the key order.
  const target = Math.floor(size / 2 / PROVIDERS) * PROVIDERS;
  const key = keyOf(target);
  const provider = defineProvider({
    id: providerId(target),
    strategy: {
      kind: 'oauth',
      issuer: 'https://issuer.bench.invalid',
      clientId: 'bench-client',
      scopes: SCOPES,
    },
  });
  let fetches = 0;
  const refusingFetch = async (input) => {
    fetches += 1;
    throw new Error(`the benchmark's provider was contacted: ${String(input)}`);
  };
  const reuse = async () => {
    const session = await authenticate(provider, {
      store,
      interactive: false,
      account: accountOf(target),
      fetch: refusingFetch,
    });
    if (session.current().account !== accountOf(target)) throw new Error('another login reused');
  };
  const get = async () => {
    if ((await store.get(key)) === undefined) throw new Error(`${key} is not stored`);
  };
  // The rotated record is built before the clock starts: only the write is timed.
  const set = (value) => () => store.set(key, value);
  const time = async (op) => {
    const t0 = performance.now();
    await op();
    return performance.now() - t0;
  };

  const first = {
    authenticate: await time(reuse),
    get: await time(get),
    set: await time(set(record(target))),
  };
  const later = { set: [], get: [], authenticate: [] };
  for (let i = 0; i < calls; i += 1) {
    later.set.push(await time(set(record(target))));
    later.get.push(await time(get));
    later.authenticate.push(await time(reuse));
  }
  // The floor under those stalls: the same bytes written to a file of the same folder and
  // synced with plain fs calls, no store code, alternating with the set() calls. On a busy
  // machine a sync alone can keep the ping loop waiting for a few milliseconds.
  const floorFile =
    kind === 'file'
      ? join(directory, '.bench-floor')
      : join(tmpdir(), `latchkey-bench-floor-${process.pid}`);
  const floorFd = openSync(floorFile, 'w', 0o600);
  const floorBytes = Buffer.from(JSON.stringify({ v: 1, key, value: record(target) }));
  const bareSync = () =>
    new Promise((resolve, reject) => {
      write(floorFd, floorBytes, 0, floorBytes.length, 0, (error) => {
        if (error) return reject(error);
        fdatasync(floorFd, (e) => (e ? reject(e) : resolve()));
      });
    });
  const stalls = [];
  const floorStalls = [];
  try {
    for (let i = 0; i < STALL_SETS; i += 1) {
      const pair = [
        async () => stalls.push(await longestStall(set(record(target)))),
        async () => floorStalls.push(await longestStall(bareSync)),
      ];
      if (i % 2 === 1) pair.reverse();
      for (const run of pair) await run();
    }
  } finally {
    closeSync(floorFd);
    unlinkSync(floorFile);
  }
  const bytes = JSON.stringify(record(target)).length;
  return { first, later, stalls, floorStalls, fetches, recordBytes: bytes };
}

try {
  if (mode === 'prefill') {
    const [directory, size] = rest;
    const t0 = performance.now();
    await prefill(fileStore({ directory }), Number(size));
    process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0 })}\n`);
  } else if (mode === 'measure') {
    const [kind, size, directory, calls] = rest;
    const result = await measure(kind, Number(size), directory, Number(calls));
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error?.stack ?? error) })}\n`);
  process.exitCode = 1;
}
