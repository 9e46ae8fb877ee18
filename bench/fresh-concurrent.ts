// Benchmark 2: 100 concurrent fresh() calls that all need a refresh, on one session in
// one process. They must share a single token request. The calls run in a plain node
// process that loads only the built @latchkey/core (bench/fresh-concurrent-child.mjs); the
// authorization server runs here and counts the token requests of each round.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileStore } from '@latchkey/core';
import { startAuthServer } from '@latchkey/testkit';
import { PROVIDER_ID, SCOPES, signIn } from './auth.js';
import { benchScript, runNode } from './child.js';
import { runIfMain } from './main.js';
import { goal, max, median, ms, pairRatios, perPair, spread } from './stats.js';

const CONCURRENT = 100;
const ROUNDS = 10;

interface Round {
  kind: 'first' | 'single' | 'concurrent';
  refreshes: number;
  tokens: number;
  latencies: number[];
}

export async function freshConcurrent(): Promise<void> {
  console.log(
    `\n## 2. ${CONCURRENT} concurrent fresh() forcing a refresh, one process (memoryStore, built core only)`,
  );
  const server = await startAuthServer({ accessTokenTtl: 3600 });
  const directory = await mkdtemp(join(tmpdir(), 'latchkey-bench-concurrent-'));
  try {
    await signIn(server, fileStore({ directory }));
    server.resetCounts();
    const rounds: Round[] = [];
    await runNode(
      benchScript('fresh-concurrent-child.mjs'),
      [
        server.issuer,
        server.clients.public.clientId,
        PROVIDER_ID,
        SCOPES.join(','),
        directory,
        String(CONCURRENT),
        String(ROUNDS),
      ],
      {
        timeoutMs: 5 * 60_000,
        onMessage: (message, child) => {
          const r = message as Omit<Round, 'refreshes'>;
          rounds.push({ ...r, refreshes: server.counts().token.refresh_token ?? 0 });
          server.resetCounts();
          child.send('next');
        },
      },
    );
    const of = (kind: Round['kind']) => rounds.filter((r) => r.kind === kind);
    const concurrent = of('concurrent');
    const singles = of('single').map((r) => r.latencies[0] as number);
    const first = of('first')[0] as Round;
    concurrent.forEach((r, i) => {
      console.log(
        `round ${i + 1}: ${r.refreshes} refresh request(s), ${r.tokens} distinct token(s), latency median ${ms(median(r.latencies))}, max ${ms(max(r.latencies))}`,
      );
    });
    const counts = concurrent.map((r) => r.refreshes);
    const medians = concurrent.map((r) => median(r.latencies));
    console.log(
      `refresh requests per round: [${counts.join(', ')}] ${goal(
        'exactly 1 per round',
        counts.every((c) => c === 1),
      )}; single calls: [${of('single')
        .map((r) => r.refreshes)
        .join(', ')}]`,
    );
    console.log(
      `first round in the process: ${first.refreshes} refresh request(s), ${first.tokens} distinct token(s), latency median ${ms(median(first.latencies))}, max ${ms(max(first.latencies))}`,
    );
    console.log(
      `concurrent fresh() latency, ${ROUNDS} round medians: ${spread(medians)}, max ${ms(max(concurrent.flatMap((r) => r.latencies)))}`,
    );
    console.log(`single fresh() refresh (baseline): ${spread(singles)} over ${ROUNDS} calls`);
    console.log(
      `concurrent round median / single, per pair: ${pairRatios(perPair(medians, singles))}`,
    );
  } finally {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
}

await runIfMain(import.meta.url, freshConcurrent);
