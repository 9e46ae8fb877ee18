// Benchmark 3: fresh() across processes sharing one fileStore directory. Every child is a
// plain node process that loads only the built @latchkey/core; the authorization server
// (oidc-provider) runs in this process only.
// (a) 4 processes x 25 concurrent fresh() calls forcing a refresh: across all of them there
//     must be a single token request. Baseline: one process making one call, alternated.
// (b) fresh() at a real expiry: 1, 2, 4 and 8 processes share one login whose access token
//     lives TTL_SECONDS, each calling fresh() every INTERVAL_MS across several expiries.
//     The processes start one after the other, and each refreshes the login once as it
//     starts (its first refresh, reported apart: Node.js loads fetch() and compiles the
//     refresh path then), so the expiries measure processes in their steady state.
//     Per expiry, the token requests the server saw (exactly one) and the latency of the
//     calls that waited for the refresh (the one call per process whose token changed);
//     the refreshing call apart, and how long after it ended the other processes had the
//     new token.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CredentialStore, fileStore } from '@latchkey/core';
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { PROVIDER_ID, SCOPES, signIn } from './auth.js';
import { benchScript, type NodeChild, startNode } from './child.js';
import { runIfMain } from './main.js';
import { goal, max, median, ms, pairRatios, perPair, spread } from './stats.js';

const PROCESSES = 4;
const CALLS_PER_PROCESS = 25;
const ROUNDS = 5;
const CHILD_TIMEOUT_MS = 45_000;

const EXPIRY_PROCESSES = [1, 2, 4, 8] as const;
type Count = (typeof EXPIRY_PROCESSES)[number];
const TTL_SECONDS = 3;
// The first expiry each run crosses (new sessions, just loaded) is reported apart; these come after it.
const MEASURED_EXPIRIES = 4;
// Passes over the process counts, the order reversed each time.
const PASSES = 2;
const INTERVAL_MS = 10;
const GOAL_RATIO = 1.5;

const forcedChild = benchScript('fresh-child.mjs');
const expiryChild = benchScript('fresh-expiry-child.mjs');

interface ChildReport {
  latencies: number[];
  before: string;
  hashes: string[];
  refreshed: boolean;
  adopted: boolean;
}

interface Round {
  refreshes: number;
  refreshedIn: number;
  adoptedIn: number;
  startTokens: number;
  tokens: number;
  latencies: number[];
}

const commonArgs = (server: TestAuthServer, directory: string) => [
  server.issuer,
  server.clients.public.clientId,
  PROVIDER_ID,
  SCOPES.join(','),
  directory,
];

async function round(
  server: TestAuthServer,
  directory: string,
  n: number,
  processes: number,
  calls: number,
): Promise<Round> {
  const go = join(directory, `go-${n}`);
  const children = Array.from({ length: processes }, () =>
    startNode<ChildReport>(forcedChild, [...commonArgs(server, directory), go, String(calls)], {
      timeoutMs: CHILD_TIMEOUT_MS,
    }),
  );
  // Release them together once every child has started and waits at the gate.
  await Promise.all(children.map((c) => c.ready));
  server.resetCounts();
  await writeFile(go, '');
  const reports = await Promise.all(children.map((c) => c.done));
  return {
    refreshes: server.counts().token.refresh_token ?? 0,
    refreshedIn: reports.filter((r) => r.refreshed).length,
    adoptedIn: reports.filter((r) => r.adopted).length,
    startTokens: new Set(reports.map((r) => r.before)).size,
    tokens: new Set(reports.flatMap((r) => r.hashes)).size,
    latencies: reports.flatMap((r) => r.latencies),
  };
}

async function forcedRefresh(server: TestAuthServer, directory: string): Promise<void> {
  const total = PROCESSES * CALLS_PER_PROCESS;
  console.log(
    `\n## 3. ${PROCESSES} processes x ${CALLS_PER_PROCESS} concurrent fresh() forcing a refresh, one fileStore`,
  );
  const singles: number[] = [];
  const rounds: Round[] = [];
  for (let i = 1; i <= ROUNDS; i += 1) {
    // Baseline: one process making one call, the same refresh without any contention;
    // alternating which of the pair goes first.
    const baseline = () => round(server, directory, -i, 1, 1);
    const contended = () => round(server, directory, i, PROCESSES, CALLS_PER_PROCESS);
    let r: Round;
    if (i % 2 === 1) {
      singles.push(...(await baseline()).latencies);
      r = await contended();
    } else {
      r = await contended();
      singles.push(...(await baseline()).latencies);
    }
    rounds.push(r);
    console.log(
      `round ${i}: ${r.refreshes} refresh request(s) (${r.refreshedIn} process refreshed, ${r.adoptedIn} adopted), ${r.startTokens} token(s) held before, ${r.tokens} after, over ${r.latencies.length} calls, latency median ${ms(median(r.latencies))}, max ${ms(max(r.latencies))}`,
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
    `cross-process fresh() latency, round medians over ${total} calls each: ${spread(medians)}, max ${ms(max(rounds.flatMap((r) => r.latencies)))}`,
  );
  console.log(`one process, one call (baseline): ${spread(singles)} over ${ROUNDS} runs`);
  console.log(
    `cross-process round median / baseline, per pair: ${pairRatios(perPair(medians, singles))}`,
  );
}

interface Change {
  expiredAt: number;
  ms: number;
  startedAt: number;
  endedAt: number;
  token: string;
  refreshed: boolean;
  adopted: boolean;
  warm: boolean;
}

/** One expiry, as the processes saw it. */
interface Expiry {
  at: number;
  /** The waiting call of each process that crossed it. */
  calls: Change[];
  /** Token requests the server received between this expiry and the next. */
  requests: number;
  tokens: number;
}

/** When the stored login's access token expires. */
async function storedExpiry(store: CredentialStore): Promise<number> {
  const [key] = await store.list(`credentials/${PROVIDER_ID}/`);
  const record = key === undefined ? undefined : await store.get(key);
  if (typeof record?.expiresAt !== 'number') throw new Error('the stored login has no expiry');
  return record.expiresAt;
}

/** One run: `processes` children calling fresh() across the first and MEASURED_EXPIRIES expiries. */
async function expiryRun(
  server: TestAuthServer,
  tokenRequests: number[],
  firstRefreshes: number[],
  store: CredentialStore,
  directory: string,
  processes: number,
  n: number,
): Promise<Expiry[]> {
  const go = join(directory, `expiry-go-${n}`);
  // One at a time: each makes its first refresh before the next starts.
  const children: NodeChild<{ changes: Change[]; calls: number; firstRefreshMs: number }>[] = [];
  for (let i = 0; i < processes; i += 1) {
    const child = startNode<{ changes: Change[]; calls: number; firstRefreshMs: number }>(
      expiryChild,
      [...commonArgs(server, directory), go, String(INTERVAL_MS)],
      { timeoutMs: (MEASURED_EXPIRIES + 4) * TTL_SECONDS * 1000 + 30_000 + processes * 2_000 },
    );
    children.push(child);
    await child.ready;
  }
  // The first expiry they all cross is that of the login stored now; stop halfway between
  // the last measured expiry and the next.
  const first = await storedExpiry(store);
  const stopAt = first + (MEASURED_EXPIRIES + 0.5) * TTL_SECONDS * 1000;
  tokenRequests.length = 0;
  await writeFile(`${go}.tmp`, String(stopAt));
  await rename(`${go}.tmp`, go);
  const reports = await Promise.all(children.map((c) => c.done));
  firstRefreshes.push(...reports.map((r) => r.firstRefreshMs));
  const byExpiry = new Map<number, Change[]>();
  for (const change of reports.flatMap((r) => r.changes)) {
    byExpiry.set(change.expiredAt, [...(byExpiry.get(change.expiredAt) ?? []), change]);
  }
  // An expiry before the first is one a child crossed while the others were starting.
  const times = [...byExpiry.keys()].sort((a, b) => a - b).filter((at) => at >= first);
  const requestsIn = (at: number, next: number | undefined) =>
    tokenRequests.filter((t) => t >= at && (next === undefined || t < next)).length;
  const early = tokenRequests.filter((t) => t < (times[0] ?? Number.POSITIVE_INFINITY)).length;
  if (early > 0) console.log(`  (${early} token request(s) before the first expiry, run ${n})`);
  return times.map((at, i) => {
    const calls = byExpiry.get(at) ?? [];
    return {
      at,
      calls,
      requests: requestsIn(at, times[i + 1]),
      tokens: new Set(calls.map((c) => c.token)).size,
    };
  });
}

async function expiries(): Promise<void> {
  console.log(
    `\n## 3b. fresh() at a real expiry (access token TTL ${TTL_SECONDS} s), 1, 2, 4 and 8 processes on one fileStore, each calling fresh({ minValidityMs: 0 }) every ${INTERVAL_MS} ms, ${PASSES} passes x ${MEASURED_EXPIRIES} expiries after the first, process counts alternating order`,
  );
  const tokenRequests: number[] = [];
  const server = await startAuthServer({
    accessTokenTtl: TTL_SECONDS,
    middleware: [
      async (ctx, next) => {
        if (ctx.method === 'POST' && ctx.path === '/token') {
          tokenRequests.push(performance.timeOrigin + performance.now());
        }
        await next();
      },
    ],
  });
  const directory = await mkdtemp(join(tmpdir(), 'latchkey-bench-expiry-'));
  try {
    const store = fileStore({ directory });
    await signIn(server, store);
    const runs: Record<Count, Expiry[][]> = { 1: [], 2: [], 4: [], 8: [] };
    const firstRefreshes: Record<Count, number[]> = { 1: [], 2: [], 4: [], 8: [] };
    let n = 0;
    for (let pass = 0; pass < PASSES; pass += 1) {
      const order = pass % 2 === 0 ? EXPIRY_PROCESSES : [...EXPIRY_PROCESSES].reverse();
      for (const processes of order) {
        n += 1;
        runs[processes].push(
          await expiryRun(
            server,
            tokenRequests,
            firstRefreshes[processes],
            store,
            directory,
            processes,
            n,
          ),
        );
      }
    }
    // Per (pass, expiry): the median latency of the waiting calls, for the ratios.
    const medians = (processes: Count) =>
      runs[processes].flatMap((run) =>
        run.slice(1, 1 + MEASURED_EXPIRIES).map((e) => median(e.calls.map((c) => c.ms))),
      );
    for (const processes of EXPIRY_PROCESSES) {
      const measured = runs[processes].flatMap((run) => run.slice(1, 1 + MEASURED_EXPIRIES));
      const firsts = runs[processes].map((run) => run[0] as Expiry);
      const requests = measured.map((e) => e.requests);
      const waited = measured.flatMap((e) => e.calls.map((c) => c.ms));
      const complete = measured.filter((e) => e.calls.length === processes).length;
      const refreshedBy = measured.map((e) => e.calls.filter((c) => c.refreshed).length);
      const line = `${processes} process${processes > 1 ? 'es' : ''}: token requests per expiry [${requests.join(', ')}] ${goal(
        'exactly 1',
        requests.every((r) => r === 1),
      )}; ${waited.length} calls that waited for the refresh ${spread(waited)}; ${complete}/${measured.length} expiries seen by every process, tokens per expiry [${measured.map((e) => e.tokens).join(', ')}], processes that refreshed per expiry [${refreshedBy.join(', ')}]`;
      console.log(line);
      console.log(
        `  each process's first refresh, as it started (one process at a time): ${spread(firstRefreshes[processes])} [${firstRefreshes[processes].length}]`,
      );
      console.log(
        `  first expiry of each run: token requests [${firsts.map((e) => e.requests).join(', ')}], waiting calls ${spread(firsts.flatMap((e) => e.calls.map((c) => c.ms)))}`,
      );
      const refreshing = measured.flatMap((e) => e.calls.filter((c) => c.refreshed));
      const cold = refreshing.filter((c) => !c.warm).map((c) => c.ms);
      const warm = refreshing.filter((c) => c.warm).map((c) => c.ms);
      console.log(
        `  the refreshing call: in a process refreshing for the first time ${cold.length > 0 ? spread(cold) : '(none)'} [${cold.length}], in one that had refreshed before ${warm.length > 0 ? spread(warm) : '(none)'} [${warm.length}]`,
      );
      if (processes > 1) {
        // How much later than the refreshing call the others got the new token.
        const after = measured.flatMap((e) => {
          const by = e.calls.find((c) => c.refreshed);
          return by === undefined
            ? []
            : e.calls.filter((c) => c !== by).map((c) => c.endedAt - by.endedAt);
        });
        console.log(
          `  the other processes got the new token after the refreshing call ended by ${spread(after)} [${after.length}]`,
        );
        const pairs = perPair(medians(processes), medians(1));
        const mid = median(pairs);
        console.log(
          `  ${processes} processes / 1 process, per (pass, expiry) pair of waiting-call medians: ${pairRatios(pairs)}${processes === 8 ? ` ${goal(`<= ${GOAL_RATIO}`, mid <= GOAL_RATIO)}` : ''}`,
        );
      }
    }
  } finally {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
}

export async function freshCrossProcess(): Promise<void> {
  const server = await startAuthServer({ accessTokenTtl: 3600 });
  const directory = await mkdtemp(join(tmpdir(), 'latchkey-bench-xproc-'));
  try {
    await signIn(server, fileStore({ directory }));
    await forcedRefresh(server, directory);
  } finally {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
  await expiries();
}

await runIfMain(import.meta.url, freshCrossProcess);
