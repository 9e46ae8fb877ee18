// Benchmark 1: session.fresh() while the access token is valid, in a tight loop.
// The hot path must not read the store, so fileStore should be as fast as memoryStore.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileStore, memoryStore, type Session } from '@latchkey/core';
import { startAuthServer } from '@latchkey/testkit';
import { signIn } from './auth.js';
import { goal, int, median, ratio } from './stats.js';

const CALLS = 1_000_000;
const RUNS = 7;
const GOAL_OPS = 1_000_000;
const DISK_READS = 2_000;

/** Awaits `op` `calls` times in a row; returns operations per second. */
async function opsPerSecond(op: () => Promise<unknown>, calls: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < calls; i += 1) await op();
  return calls / ((performance.now() - start) / 1000);
}

export async function freshHot(): Promise<void> {
  console.log('\n## 1. Hot fresh() with a valid token');
  const server = await startAuthServer({ accessTokenTtl: 3600 });
  const directory = await mkdtemp(join(tmpdir(), 'latchkey-bench-hot-'));
  try {
    const disk = fileStore({ directory });
    const sessions: Record<'memory' | 'file', Session> = {
      memory: await signIn(server, memoryStore()),
      file: await signIn(server, disk),
    };
    const token = sessions.file.current().accessToken.reveal();
    const value = sessions.memory.current();
    // Baseline: the cheapest possible awaited call, measured in the same runs.
    const ops = {
      baseline: () => Promise.resolve(value),
      memory: () => sessions.memory.fresh(),
      file: () => sessions.file.fresh(),
    };
    const results: Record<keyof typeof ops, number[]> = { baseline: [], memory: [], file: [] };
    for (const op of Object.values(ops)) await opsPerSecond(op, CALLS / 10); // warm-up
    server.resetCounts();
    // Interleaved, so that a noisy neighbour hurts all three alike.
    for (let run = 0; run < RUNS; run += 1) {
      for (const name of ['baseline', 'memory', 'file'] as const) {
        results[name].push(await opsPerSecond(ops[name], CALLS));
      }
    }
    const tokenRequests = Object.values(server.counts().token).reduce((a, b) => a + b, 0);

    // What a single disk read costs, to show what the hot path would cost if it read.
    const [key] = await disk.list();
    if (key === undefined) throw new Error('the file store holds no credentials');
    const reads: number[] = [];
    for (let run = 0; run < 5; run += 1)
      reads.push(await opsPerSecond(() => disk.get(key), DISK_READS));

    const m = {
      baseline: median(results.baseline),
      memory: median(results.memory),
      file: median(results.file),
    };
    const of = `over ${RUNS} runs of ${int(CALLS)} calls`;
    console.log(`baseline await Promise.resolve(): median ${int(m.baseline)} ops/s ${of}`);
    console.log(
      `fresh() hot path, memoryStore: median ${int(m.memory)} ops/s ${of} ${goal(`>= ${int(GOAL_OPS)}`, m.memory >= GOAL_OPS)}`,
    );
    console.log(
      `fresh() hot path, fileStore: median ${int(m.file)} ops/s ${of} ${goal(`>= ${int(GOAL_OPS)}`, m.file >= GOAL_OPS)}`,
    );
    console.log(`fresh() memoryStore / baseline: ${ratio(m.memory / m.baseline)}`);
    console.log(
      `fresh() fileStore / memoryStore: ${ratio(m.file / m.memory)} (about 1 when no disk read)`,
    );
    console.log(
      `fileStore.get() (one disk read, for comparison): median ${int(median(reads))} ops/s over 5 runs`,
    );
    console.log(`token requests during the hot loops: ${tokenRequests} (expected 0)`);
    console.log(
      `fileStore token unchanged after the loops: ${sessions.file.current().accessToken.reveal() === token}`,
    );
  } finally {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
}
