// The process of benchmark 1: loads the built @latchkey/core and nothing else (no
// oidc-provider: its async hooks would slow every promise of the hot loop). Reuses the
// login the parent stored in a fileStore, and a copy of it in a memoryStore, times the
// first fresh() of each session, then runs the hot loops. Prints one JSON line.
// Arguments: issuer clientId providerId scopes(comma-separated) directory calls runs diskReads
import { authenticate, defineProvider, fileStore, memoryStore } from '@latchkey/core';

const [issuer, clientId, providerId, scopes, directory, callsArg, runsArg, readsArg] =
  process.argv.slice(2);
const CALLS = Number(callsArg);
const RUNS = Number(runsArg);
const DISK_READS = Number(readsArg);
const provider = defineProvider({
  id: providerId,
  strategy: { kind: 'oauth', issuer, clientId, scopes: scopes.split(',') },
});

/** Awaits `op` `calls` times in a row; returns operations per second. */
async function opsPerSecond(op, calls) {
  const start = performance.now();
  for (let i = 0; i < calls; i += 1) await op();
  return calls / ((performance.now() - start) / 1000);
}

async function timed(op) {
  const t0 = performance.now();
  const value = await op();
  return [value, performance.now() - t0];
}

try {
  const disk = fileStore({ directory });
  const memory = memoryStore();
  for (const key of await disk.list()) await memory.set(key, await disk.get(key));
  const [file, fileAuthMs] = await timed(() =>
    authenticate(provider, { store: disk, interactive: false }),
  );
  const [mem, memoryAuthMs] = await timed(() =>
    authenticate(provider, { store: memory, interactive: false }),
  );
  const token = file.current().accessToken.reveal();
  const first = {
    memory: (await timed(() => mem.fresh()))[1],
    file: (await timed(() => file.fresh()))[1],
  };
  const second = {
    memory: (await timed(() => mem.fresh()))[1],
    file: (await timed(() => file.fresh()))[1],
  };
  const value = mem.current();
  // Baseline: the cheapest possible awaited call, measured in the same runs.
  const ops = {
    baseline: () => Promise.resolve(value),
    memory: () => mem.fresh(),
    file: () => file.fresh(),
  };
  for (const op of Object.values(ops)) await opsPerSecond(op, CALLS / 10); // warm-up
  const results = { baseline: [], memory: [], file: [] };
  const names = ['baseline', 'memory', 'file'];
  for (let run = 0; run < RUNS; run += 1) {
    // Interleaved, alternating the order, so that a noisy neighbour hurts all three alike.
    for (const name of run % 2 === 0 ? names : [...names].reverse()) {
      results[name].push(await opsPerSecond(ops[name], CALLS));
    }
  }
  const [key] = await disk.list();
  const reads = [];
  for (let run = 0; run < 5; run += 1)
    reads.push(await opsPerSecond(() => disk.get(key), DISK_READS));
  process.stdout.write(
    `${JSON.stringify({
      results,
      reads,
      first,
      second,
      authenticateMs: { file: fileAuthMs, memory: memoryAuthMs },
      unchanged: file.current().accessToken.reveal() === token,
    })}\n`,
  );
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error?.stack ?? error) })}\n`);
  process.exitCode = 1;
}
