// One process of benchmark 3, loading the built @latchkey/core and nothing else.
// Loads the stored login, prints "ready", waits for the go file, then makes `count`
// concurrent fresh() calls that force a refresh, and prints one JSON line: each call's
// latency in ms (from the start of the calls), the token it held before and the distinct
// tokens it got (as hashes), and whether this process refreshed or adopted another
// process's refresh.
// Arguments: issuer clientId providerId scopes(comma-separated) directory goFile count
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { authenticate, defineProvider, fileStore, isLatchkeyError } from '@latchkey/core';

const [issuer, clientId, providerId, scopes, directory, goFile, countArg] = process.argv.slice(2);
const provider = defineProvider({
  id: providerId,
  strategy: { kind: 'oauth', issuer, clientId, scopes: scopes.split(',') },
});
const hash = (c) => createHash('sha256').update(c.accessToken.reveal()).digest('hex');
const events = [];

try {
  // Loaded before the gate, so every process holds the same token when released. Loaded
  // after it, a late process can read a token another process just refreshed, and since
  // no token satisfies minValidityMs = its whole lifetime, it rightly refreshes again.
  const session = await authenticate(provider, {
    store: fileStore({ directory }),
    interactive: false,
    onEvent: (event) => events.push(event.type),
  });
  const before = hash(session.current());
  process.stdout.write('ready\n');
  const deadline = Date.now() + 30_000;
  while (!existsSync(goFile)) {
    if (Date.now() > deadline) process.exit(3);
    await new Promise((r) => setTimeout(r, 2));
  }
  const start = performance.now();
  const results = await Promise.all(
    Array.from({ length: Number(countArg) }, () =>
      session
        .fresh({ minValidityMs: 3_600_000 })
        .then((c) => ({ hash: hash(c), ms: performance.now() - start })),
    ),
  );
  const report = {
    latencies: results.map((r) => r.ms),
    before,
    hashes: [...new Set(results.map((r) => r.hash))],
    refreshed: events.includes('token_refreshed'),
    adopted: events.includes('credentials_adopted'),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} catch (error) {
  process.stdout.write(
    `${JSON.stringify({ error: isLatchkeyError(error) ? error.code : String(error) })}\n`,
  );
  process.exit(1);
}
