// Benchmark 7: connecting to a remote MCP server behind OAuth, each connect in a new process,
// against one local authorization server and MCP server pair: cold (discovery, registration,
// sign-in, initialize, tools/list), warm (stored tokens: no request to the authorization
// server), and after the access token expired (one refresh). Latchkey (the built core:
// authenticate + launchServer) against the MCP SDK's own auth() flow (an OAuthClientProvider
// kept in a JSON file, finishAuth() and a second connect). Each side runs in a plain node
// process that loads only what it would load in a host (no SDK preloaded for Latchkey, no
// TypeScript loader), alternated pair by pair. Two figures per connect: the whole process
// (spawn to exit, as a host that starts a connect pays it) and in process (from the first
// call to the tools/list answer); per-pair ratios, and the requests each server saw.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AuthServerRequest,
  type McpAuthServer,
  type McpServerRequest,
  startMcpAuthServer,
  startMcpServer,
  type TestMcpServer,
} from '@latchkey/testkit';
import { runIfMain } from './main.js';
import { goal, median, ms, ratio } from './stats.js';

const RUNS = 15;
// Long enough for the warm connect (a new process right after the sign-in) to find the token
// fresh (Latchkey refreshes once half of the lifetime is gone), short enough to wait out.
const TTL_SECONDS = 10;
const CHILD_TIMEOUT_MS = 30_000;
// How many runs later the connects after expiry of a run come, instead of all waiting.
const LAG = 5;
const LATCHKEY_CHILD = fileURLToPath(new URL('./mcp-connect-latchkey.mjs', import.meta.url));
const SDK_CHILD = fileURLToPath(new URL('./mcp-connect-sdk.mjs', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));

/** One side of a comparison: a child script and the arguments it takes after the common ones. */
interface Side {
  readonly name: string;
  readonly script: string;
  readonly extra: readonly string[];
}

type Scenario = 'cold' | 'warm' | 'expired';
const SCENARIOS: readonly Scenario[] = ['cold', 'warm', 'expired'];
const LABELS: Record<Scenario, string> = {
  cold: 'cold connect (discovery + registration + sign-in + initialize + tools/list)',
  warm: 'warm connect (new process, stored tokens)',
  expired: 'connect after expiry (new process, expired access token)',
};

/** What a child prints. */
interface ChildReport {
  /** In process: from the first call to the tools/list answer. */
  ms: number;
  tools: number;
  expiresAt: number | undefined;
}

interface Measured {
  report: ChildReport;
  /** The whole process: spawn to exit. */
  processMs: number;
  as: AuthServerRequest[];
  mcp: McpServerRequest[];
}

function runChild(side: Side, args: string[]): Promise<{ report: ChildReport; processMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const proc = spawn(process.execPath, [side.script, ...args, ...side.extra], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => proc.kill(), CHILD_TIMEOUT_MS);
    let out = '';
    let err = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(timer);
      const processMs = performance.now() - started;
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0)
        reject(new Error(`${side.name} ${args[0]}: exited with ${code}: ${last} ${err}`));
      else resolve({ report: JSON.parse(last) as ChildReport, processMs });
    });
  });
}

/** One connect in a new process, with the requests each server saw meanwhile. */
async function measure(
  as: McpAuthServer,
  mcp: TestMcpServer,
  side: Side,
  scenario: Scenario,
  store: string,
): Promise<Measured> {
  as.clearRequests();
  mcp.clearRequests();
  const { report, processMs } = await runChild(side, [scenario, mcp.url, store]);
  if (report.tools < 1) throw new Error(`${side.name} ${scenario}: no tools listed`);
  if (report.expiresAt === undefined) throw new Error(`${side.name} ${scenario}: no token expiry`);
  // The MCP server's own fetches of the signing keys are not the client's doing.
  return {
    report,
    processMs,
    as: as.requests().filter((r) => !r.fromResourceServer),
    mcp: mcp.requests(),
  };
}

/** "5", or "5-6" when the runs differ. */
function counts(values: number[]): string {
  const low = Math.min(...values);
  const high = Math.max(...values);
  return low === high ? String(low) : `${low}-${high}`;
}

function describeAs(r: AuthServerRequest): string {
  const path = r.path.replace(/^\/(interaction|auth)\/[^/]+/, '/$1/:uid');
  const what = r.endpoint === 'other' || r.endpoint === 'authorization' ? path : r.endpoint;
  return `${r.method} ${what}${r.grantType ? ` (${r.grantType})` : ''} ${r.status}`;
}

function describeMcp(r: McpServerRequest): string {
  return `${r.method} ${r.rpcMethod ?? r.path} ${r.status}`;
}

const refreshes = (m: Measured) => m.as.filter((r) => r.grantType === 'refresh_token').length;
const unauthorized = (m: Measured) => m.mcp.filter((r) => r.status === 401).length;

type Results = Record<Scenario, Measured[]>[];

/**
 * Runs `sides[0]` against `sides[1]` on one server pair: per run, a cold and a warm connect
 * of each (alternating which goes first), and LAG runs later the connects after expiry.
 * Prints each scenario's figures and the per-pair ratios of the first side to the second.
 */
async function compare(
  as: McpAuthServer,
  mcp: TestMcpServer,
  sides: readonly [Side, Side],
  limits: { process: number; inProcess: number },
): Promise<Results> {
  const directory = await mkdtemp(join(tmpdir(), 'latchkey-bench-mcp-'));
  const storeOf = (side: number, run: number) =>
    join(directory, `${side}-${run}${sides[side]?.script === SDK_CHILD ? '.json' : ''}`);
  const results: Results = sides.map(() => ({ cold: [], warm: [], expired: [] }));
  try {
    // Untimed: the servers' first sign-ins and the MCP server's key fetch.
    for (const [i, side] of sides.entries()) await measure(as, mcp, side, 'cold', storeOf(i, 0));

    // Run r's connects after expiry come LAG runs later, once its tokens have run out.
    const order = (run: number): readonly number[] => (run % 2 === 1 ? [0, 1] : [1, 0]);
    const expiry = new Map<number, number>();
    for (let step = 1; step <= RUNS + LAG; step += 1) {
      if (step <= RUNS) {
        for (const i of order(step)) {
          // The warm connect right after the sign-in, while the token is fresh.
          for (const scenario of ['cold', 'warm'] as const) {
            const m = await measure(as, mcp, sides[i] as Side, scenario, storeOf(i, step));
            results[i]?.[scenario].push(m);
            expiry.set(step, Math.max(expiry.get(step) ?? 0, m.report.expiresAt as number));
          }
        }
      }
      const run = step - LAG;
      if (run < 1) continue;
      // Real expiry: both stored access tokens of the run have run out.
      const wait = (expiry.get(run) ?? 0) + 1000 - Date.now();
      if (wait > (TTL_SECONDS + 2) * 1000) throw new Error(`a token expires in ${wait} ms`);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
      for (const i of order(run)) {
        results[i]?.expired.push(
          await measure(as, mcp, sides[i] as Side, 'expired', storeOf(i, run)),
        );
      }
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }

  const spread = (values: number[]) =>
    `${ms(median(values))} (${ms(Math.min(...values))}-${ms(Math.max(...values))})`;
  const [a, b] = results as [Record<Scenario, Measured[]>, Record<Scenario, Measured[]>];
  const ratios = (scenario: Scenario, figure: (m: Measured) => number, limit: number) => {
    const pairs = a[scenario].map((m, i) => figure(m) / figure(b[scenario][i] as Measured));
    const mid = median(pairs);
    return `${ratio(mid)} (${ratio(Math.min(...pairs))}-${ratio(Math.max(...pairs))}) ${goal(`<= ${limit}`, mid <= limit)}`;
  };
  for (const scenario of SCENARIOS) {
    const line = (i: number) => {
      const runs = results[i]?.[scenario] ?? [];
      return `${sides[i]?.name} process ${spread(runs.map((m) => m.processMs))}, in process ${spread(runs.map((m) => m.report.ms))}, AS ${counts(runs.map((m) => m.as.length))} requests, MCP ${counts(runs.map((m) => m.mcp.length))} requests`;
    };
    console.log(`${LABELS[scenario]}, ${a[scenario].length} pairs:`);
    for (const i of [0, 1]) console.log(`  ${line(i)}`);
    console.log(
      `  ${sides[0].name} / ${sides[1].name}, median of per-pair ratios (min-max): whole process ${ratios(scenario, (m) => m.processMs, limits.process)}, in process ${ratios(scenario, (m) => m.report.ms, limits.inProcess)}`,
    );
    for (const i of [0, 1]) {
      const first = results[i]?.[scenario][0] as Measured;
      console.log(
        `  ${sides[i]?.name} ${scenario}, run 1 requests: AS [${first.as.map(describeAs).join(', ')}]; MCP [${first.mcp.map(describeMcp).join(', ')}]`,
      );
    }
  }
  return results;
}

export async function mcpConnect(): Promise<void> {
  console.log(
    `\n## 7. MCP connect over OAuth, new process each: Latchkey against the MCP SDK's auth(), ${RUNS} runs, alternated`,
  );
  const as = await startMcpAuthServer({ accessTokenTtl: TTL_SECONDS });
  const mcp = await startMcpServer({ authorizationServers: [as.issuer] });
  try {
    const [latchkey, sdk] = (await compare(
      as,
      mcp,
      [
        { name: 'latchkey', script: LATCHKEY_CHILD, extra: [] },
        { name: 'sdk', script: SDK_CHILD, extra: [] },
      ],
      { process: 1.0, inProcess: 1.2 },
    )) as [Record<Scenario, Measured[]>, Record<Scenario, Measured[]>];
    const warmAs = latchkey.warm.map((m) => m.as.length);
    console.log(
      `warm connect, Latchkey, requests to the AS per run: [${warmAs.join(', ')}] ${goal(
        '0',
        warmAs.every((n) => n === 0),
      )}`,
    );
    const expired = latchkey.expired.map(refreshes);
    console.log(
      `connect after expiry, Latchkey, refresh requests per run: [${expired.join(', ')}], MCP 401s: [${latchkey.expired.map(unauthorized).join(', ')}] ${goal(
        'exactly 1 refresh',
        expired.every((n) => n === 1),
      )}`,
    );
    console.log(
      `connect after expiry, SDK, refresh requests per run: [${sdk.expired.map(refreshes).join(', ')}], MCP 401s: [${sdk.expired.map(unauthorized).join(', ')}] (the SDK refreshes only after a 401)`,
    );
  } finally {
    await Promise.all([as.close(), mcp.close()]);
  }
}

/**
 * Benchmark 8: the same connects with DPoP on and off, Latchkey on both sides, against one
 * authorization server that offers DPoP and an MCP server that checks every proof: the
 * cost of the key pair, the proofs (signing one per request) and storing the key.
 */
export async function mcpConnectDpop(): Promise<void> {
  console.log(
    `\n## 8. MCP connect with DPoP against without, Latchkey both sides, new process each, ${RUNS} runs, alternated`,
  );
  const as = await startMcpAuthServer({ accessTokenTtl: TTL_SECONDS, dpop: {} });
  const mcp = await startMcpServer({ authorizationServers: [as.issuer], dpop: 'accept' });
  try {
    const [dpop] = (await compare(
      as,
      mcp,
      [
        { name: 'dpop', script: LATCHKEY_CHILD, extra: ['auto'] },
        { name: 'bearer', script: LATCHKEY_CHILD, extra: ['refuse'] },
      ],
      { process: 1.15, inProcess: 1.15 },
    )) as [Record<Scenario, Measured[]>, Record<Scenario, Measured[]>];
    const schemes = new Set(dpop.warm.flatMap((m) => m.mcp.map((r) => r.scheme ?? 'none')));
    console.log(
      `dpop side, schemes the MCP server saw on warm connects: ${[...schemes].join(', ')}`,
    );
  } finally {
    await Promise.all([as.close(), mcp.close()]);
  }
}

await runIfMain(import.meta.url, async () => {
  await mcpConnect();
  await mcpConnectDpop();
});
