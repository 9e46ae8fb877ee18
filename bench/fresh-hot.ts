// Benchmark 1: session.fresh() while the access token is valid, in a tight loop.
// The hot path must not read the store, so fileStore should be as fast as memoryStore.
// The loops run in a plain node process that loads only the built @latchkey/core
// (bench/fresh-hot-child.mjs): the authorization server (oidc-provider, whose async hooks
// slow every promise) stays in this process, which only signs in and counts requests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileStore } from '@latchkey/core';
import { startAuthServer } from '@latchkey/testkit';
import { PROVIDER_ID, SCOPES, signIn } from './auth.js';
import { benchScript, runNode } from './child.js';
import { runIfMain } from './main.js';
import { goal, int, median, ms, pairRatios, perPair, spread } from './stats.js';

const CALLS = 1_000_000;
const RUNS = 7;
const GOAL_OPS = 1_000_000;
const DISK_READS = 2_000;

type Name = 'baseline' | 'memory' | 'file';
interface ChildReport {
  results: Record<Name, number[]>;
  reads: number[];
  first: Record<'memory' | 'file', number>;
  second: Record<'memory' | 'file', number>;
  authenticateMs: Record<'memory' | 'file', number>;
  unchanged: boolean;
}

export async function freshHot(): Promise<void> {
  console.log('\n## 1. Hot fresh() with a valid token (its own process, built core only)');
  const server = await startAuthServer({ accessTokenTtl: 3600 });
  const directory = await mkdtemp(join(tmpdir(), 'latchkey-bench-hot-'));
  try {
    await signIn(server, fileStore({ directory }));
    server.resetCounts();
    const report = await runNode<ChildReport>(
      benchScript('fresh-hot-child.mjs'),
      [
        server.issuer,
        server.clients.public.clientId,
        PROVIDER_ID,
        SCOPES.join(','),
        directory,
        String(CALLS),
        String(RUNS),
        String(DISK_READS),
      ],
      { timeoutMs: 10 * 60_000 },
    );
    const counts = server.counts();
    const tokenRequests = Object.values(counts.token).reduce((a, b) => a + b, 0);
    const otherRequests = counts.discovery + counts.userinfo + counts.revocation;
    const { results } = report;
    const m = {
      baseline: median(results.baseline),
      memory: median(results.memory),
      file: median(results.file),
    };
    const ops = (values: number[]) => spread(values, (v) => `${int(v)} ops/s`);
    const of = `over ${RUNS} runs of ${int(CALLS)} calls`;
    console.log(`baseline await Promise.resolve(): ${ops(results.baseline)} ${of}`);
    console.log(
      `fresh() hot path, memoryStore: ${ops(results.memory)} ${of} ${goal(`>= ${int(GOAL_OPS)}`, m.memory >= GOAL_OPS)}`,
    );
    console.log(
      `fresh() hot path, fileStore: ${ops(results.file)} ${of} ${goal(`>= ${int(GOAL_OPS)}`, m.file >= GOAL_OPS)}`,
    );
    console.log(
      `fresh() memoryStore / baseline, per run: ${pairRatios(perPair(results.memory, results.baseline))}`,
    );
    console.log(
      `fresh() fileStore / memoryStore, per run: ${pairRatios(perPair(results.file, results.memory))} (about 1 when no disk read)`,
    );
    console.log(
      `first calls in the process: authenticate() reuse fileStore ${ms(report.authenticateMs.file)}, memoryStore ${ms(report.authenticateMs.memory)}; first fresh() memoryStore ${ms(report.first.memory)}, fileStore ${ms(report.first.file)}; second fresh() memoryStore ${ms(report.second.memory)}, fileStore ${ms(report.second.file)}`,
    );
    console.log(
      `fileStore.get() (one disk read, for comparison): ${ops(report.reads)} over 5 runs of ${int(DISK_READS)}`,
    );
    console.log(
      `token requests during the child (reuse and hot loops): ${tokenRequests} (expected 0); other requests to the authorization server: ${otherRequests}`,
    );
    console.log(`fileStore token unchanged after the loops: ${report.unchanged}`);
  } finally {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
}

await runIfMain(import.meta.url, freshHot);
