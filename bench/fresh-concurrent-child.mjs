// The process of benchmark 2: loads the built @latchkey/core and nothing else. Copies the
// login the parent stored in a fileStore into a memoryStore, then runs rounds of `count`
// concurrent fresh() calls forcing a refresh: a first round, then `rounds` pairs of a lone
// call and a concurrent round, alternating which goes first. After each round it sends
// the parent { kind, latencies, tokens } over IPC and waits for "next" (the parent reads
// the server's counts in between).
// Arguments: issuer clientId providerId scopes(comma-separated) directory count rounds
import { authenticate, defineProvider, fileStore, memoryStore } from '@latchkey/core';

const [issuer, clientId, providerId, scopes, directory, countArg, roundsArg] =
  process.argv.slice(2);
// The token lives 3600 s, so asking for 3600 s of validity always forces a refresh.
const FORCE = { minValidityMs: 3_600_000 };
const provider = defineProvider({
  id: providerId,
  strategy: { kind: 'oauth', issuer, clientId, scopes: scopes.split(',') },
});

let proceed = () => {};
process.on('message', (message) => {
  if (message === 'next') proceed();
});
const report = (message) =>
  new Promise((resolve) => {
    proceed = resolve;
    process.send(message);
  });

/** Starts `count` fresh() calls at once; latency is from the start to each call's resolution. */
async function round(session, count) {
  const start = performance.now();
  const results = await Promise.all(
    Array.from({ length: count }, () =>
      session
        .fresh(FORCE)
        .then((c) => ({ token: c.accessToken.reveal(), ms: performance.now() - start })),
    ),
  );
  return { tokens: new Set(results.map((r) => r.token)).size, latencies: results.map((r) => r.ms) };
}

try {
  const disk = fileStore({ directory });
  const memory = memoryStore();
  for (const key of await disk.list()) await memory.set(key, await disk.get(key));
  const session = await authenticate(provider, { store: memory, interactive: false });
  const count = Number(countArg);
  await report({ kind: 'first', ...(await round(session, count)) });
  for (let i = 0; i < Number(roundsArg); i += 1) {
    const order = i % 2 === 0 ? ['single', 'concurrent'] : ['concurrent', 'single'];
    for (const kind of order) {
      await report({ kind, ...(await round(session, kind === 'single' ? 1 : count)) });
    }
  }
  process.stdout.write('{"done":true}\n');
  process.disconnect();
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error?.stack ?? error) })}\n`);
  process.exitCode = 1;
  process.disconnect();
}
