// One process of the store-postgres expiry benchmark, loading the built @latchkey/core and
// @latchkey/store-postgres (and pg) only. Loads <count> stored logins (accounts
// user0..user<count-1>) with authenticate({ interactive: false }), prints "ready", waits
// for the go file, which holds a start time T (epoch ms), then calls fresh() of login i at
// T + i * <spacingMs>, all processes on the same schedule, with minValidityMs: 1 h, so that
// the login (whose tokens live 1 h) counts as expiring: one process refreshes it, the others
// wait for it. Prints one JSON line: per call, the login, its latency, whether this process
// refreshed or adopted, when it ended (epoch ms); and the latency of every token request this process made (through
// the fetch given to authenticate(), until the response body was read).
// Arguments: issuer clientId providerId scopes(comma-separated) connectionString key count spacingMs goFile
import { existsSync, readFileSync } from 'node:fs';
import { authenticate, defineProvider, isLatchkeyError } from '@latchkey/core';
import { postgresStore } from '@latchkey/store-postgres';

const [issuer, clientId, providerId, scopes, connectionString, key, countArg, spacingArg, goFile] =
  process.argv.slice(2);
const provider = defineProvider({
  id: providerId,
  strategy: { kind: 'oauth', issuer, clientId, scopes: scopes.split(',') },
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const count = Number(countArg);
const spacing = Number(spacingArg);
const tokenMs = [];
const timedFetch = async (input, init) => {
  const url = String(input instanceof Request ? input.url : input);
  if (!url.endsWith('/token')) return fetch(input, init);
  const t0 = performance.now();
  const response = await fetch(input, init);
  await response.clone().arrayBuffer();
  tokenMs.push(performance.now() - t0);
  return response;
};

const store = postgresStore({ connectionString, encryption: key });
try {
  const sessions = [];
  const events = [];
  for (let i = 0; i < count; i += 1) {
    const seen = [];
    events.push(seen);
    sessions.push(
      await authenticate(provider, {
        store,
        interactive: false,
        account: `user${i}@example.test`,
        fetch: timedFetch,
        onEvent: (event) => seen.push(event.type),
      }),
    );
  }
  process.stdout.write('ready\n');
  const deadline = Date.now() + 120_000;
  while (!existsSync(goFile)) {
    if (Date.now() > deadline) process.exit(3);
    await sleep(2);
  }
  const start = Number(readFileSync(goFile, 'utf8'));
  const calls = await Promise.all(
    sessions.map(
      (session, i) =>
        new Promise((resolve, reject) => {
          setTimeout(
            async () => {
              try {
                const seen = events[i].length;
                const late = Date.now() - (start + i * spacing);
                const t0 = performance.now();
                await session.fresh({ minValidityMs: 3_600_000 });
                const ms = performance.now() - t0;
                const endedAt = performance.timeOrigin + performance.now();
                const happened = events[i].slice(seen);
                resolve({
                  i,
                  ms,
                  endedAt,
                  late,
                  refreshed: happened.includes('token_refreshed'),
                  adopted: happened.includes('credentials_adopted'),
                });
              } catch (error) {
                reject(error);
              }
            },
            Math.max(0, start + i * spacing - Date.now()),
          );
        }),
    ),
  );
  await store.close();
  process.stdout.write(`${JSON.stringify({ calls, tokenMs })}\n`);
} catch (error) {
  await store.close().catch(() => {});
  process.stdout.write(
    `${JSON.stringify({ error: isLatchkeyError(error) ? `${error.code}: ${error.message}` : String(error?.stack ?? error) })}\n`,
  );
  process.exit(1);
}
