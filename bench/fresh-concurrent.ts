// Benchmark 2: 100 concurrent fresh() calls that all need a refresh, on one session in
// one process. They must share a single token request.
import { memoryStore, type Session } from '@latchkey/core';
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { signIn } from './auth.js';
import { goal, max, median, ms, ratio } from './stats.js';

const CONCURRENT = 100;
const ROUNDS = 10;
// The token lives 3600 s, so asking for 3600 s of validity always forces a refresh.
const FORCE = { minValidityMs: 3_600_000 };

interface Round {
  refreshes: number;
  tokens: number;
  latencies: number[];
}

/** Starts `count` fresh() calls at once; latency is from the start to each call's resolution. */
async function round(server: TestAuthServer, session: Session, count: number): Promise<Round> {
  server.resetCounts();
  const start = performance.now();
  const results = await Promise.all(
    Array.from({ length: count }, () =>
      session
        .fresh(FORCE)
        .then((c) => ({ token: c.accessToken.reveal(), ms: performance.now() - start })),
    ),
  );
  return {
    refreshes: server.counts().token.refresh_token ?? 0,
    tokens: new Set(results.map((r) => r.token)).size,
    latencies: results.map((r) => r.ms),
  };
}

export async function freshConcurrent(): Promise<void> {
  console.log(
    `\n## 2. ${CONCURRENT} concurrent fresh() forcing a refresh, one process (memoryStore)`,
  );
  const server = await startAuthServer({ accessTokenTtl: 3600 });
  try {
    const session = await signIn(server, memoryStore());
    await round(server, session, CONCURRENT); // warm-up, not reported
    const singles: number[] = [];
    const rounds: Round[] = [];
    // Baseline: one lone call doing the same refresh, alternated with the concurrent rounds.
    for (let i = 0; i < ROUNDS; i += 1) {
      singles.push(...(await round(server, session, 1)).latencies);
      const r = await round(server, session, CONCURRENT);
      rounds.push(r);
      console.log(
        `round ${i + 1}: ${r.refreshes} refresh request(s), ${r.tokens} distinct token(s), latency median ${ms(median(r.latencies))}, max ${ms(max(r.latencies))}`,
      );
    }
    const counts = rounds.map((r) => r.refreshes);
    const medians = rounds.map((r) => median(r.latencies));
    console.log(
      `refresh requests per round: [${counts.join(', ')}] ${goal(
        'exactly 1 per round',
        counts.every((c) => c === 1),
      )}`,
    );
    console.log(
      `concurrent fresh() latency: median ${ms(median(medians))} (median of ${ROUNDS} round medians), max ${ms(max(rounds.flatMap((r) => r.latencies)))}`,
    );
    console.log(
      `single fresh() refresh (baseline): median ${ms(median(singles))} over ${ROUNDS} calls`,
    );
    console.log(`concurrent median / single: ${ratio(median(medians) / median(singles))}`);
  } finally {
    await server.close();
  }
}
