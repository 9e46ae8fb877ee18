// One process of benchmark 3b, loading the built @latchkey/core and nothing else. Loads
// the stored login and refreshes it once (refresh(), a real token request: the process's
// first refresh, timed, so that the run measures processes that have refreshed before),
// prints "ready", waits for the go file, loads the stored login again (the newest, which
// the processes started after this one refreshed), then calls fresh() every
// `intervalMs` until the time (epoch ms) the go file holds, asking for no more than a valid token
// (minValidityMs: 0), so it refreshes only once the access token has really expired.
// Prints one JSON line with every call whose token changed: the expiry it crossed, its
// latency, when it started and ended (epoch ms), the new token (as a hash), and whether
// this process refreshed or adopted another process's refresh, and whether it had refreshed
// before (always, after the first refresh above), and the first refresh's latency.
// Arguments: issuer clientId providerId scopes(comma-separated) directory goFile intervalMs
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { authenticate, defineProvider, fileStore, isLatchkeyError } from '@latchkey/core';

const [issuer, clientId, providerId, scopes, directory, goFile, intervalArg] =
  process.argv.slice(2);
const provider = defineProvider({
  id: providerId,
  strategy: { kind: 'oauth', issuer, clientId, scopes: scopes.split(',') },
});
const hash = (c) => createHash('sha256').update(c.accessToken.reveal()).digest('hex');
const epoch = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const events = [];

try {
  const store = fileStore({ directory });
  const load = () =>
    authenticate(provider, {
      store,
      interactive: false,
      onEvent: (event) => events.push(event.type),
    });
  const first = await load();
  const t = performance.now();
  await first.refresh();
  const firstRefreshMs = performance.now() - t;
  process.stdout.write('ready\n');
  const deadline = Date.now() + 30_000;
  while (!existsSync(goFile)) {
    if (Date.now() > deadline) process.exit(3);
    await sleep(2);
  }
  const stopAt = Number(readFileSync(goFile, 'utf8'));
  const session = await load();
  const interval = Number(intervalArg);
  const changes = [];
  let held = session.current();
  let calls = 0;
  let refreshes = 1;
  while (Date.now() < stopAt) {
    const seen = events.length;
    const startedAt = epoch();
    const t0 = performance.now();
    const c = await session.fresh({ minValidityMs: 0 });
    const ms = performance.now() - t0;
    calls += 1;
    if (c.accessToken.reveal() !== held.accessToken.reveal()) {
      const happened = events.slice(seen);
      const refreshed = happened.includes('token_refreshed');
      changes.push({
        expiredAt: held.expiresAt,
        ms,
        startedAt,
        endedAt: epoch(),
        token: hash(c),
        refreshed,
        adopted: happened.includes('credentials_adopted'),
        // Whether this process had made a token request before this one: Node.js loads its
        // fetch() implementation on the first call, which costs tens of milliseconds.
        warm: refreshes > 0,
      });
      if (refreshed) refreshes += 1;
      held = c;
    }
    await sleep(interval);
  }
  process.stdout.write(`${JSON.stringify({ changes, calls, firstRefreshMs })}\n`);
} catch (error) {
  process.stdout.write(
    `${JSON.stringify({ error: isLatchkeyError(error) ? error.code : String(error?.stack ?? error) })}\n`,
  );
  process.exit(1);
}
