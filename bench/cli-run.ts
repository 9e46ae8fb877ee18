// Benchmark 10: `latchkey run` between an MCP host and @modelcontextprotocol/server-everything,
// against the host spawning server-everything itself. The host is a plain node process
// (bench/cli-run-host.mjs) that imports the MCP SDK v1 Client and StdioClientTransport and
// nothing else; it spawns either `node <server-everything entry> stdio` (direct, the
// baseline) or `node packages/cli/dist/bin.js run everything` (the built CLI, no tsx), whose
// recipe (bench/cli-run-config.mjs, named by LATCHKEY_CONFIG, store in a temp LATCHKEY_HOME)
// starts the same server with no provider and no credentials: nothing is signed in to, so
// the CLI's cost is its own start (node, its bundle and the packages it imports, the config
// module, the launch directory), the extra process, and the relay of each line both ways.
// A third side, `pipe` (bench/cli-run-pipe.mjs: node spawning the server and piping the
// bytes through, nothing loaded), is the floor of any relay in its own process: latchkey /
// pipe is the cost of the CLI's own work over that extra hop.
// Each round is a new host process per side, the order going through all six (so latchkey
// goes before direct in half of the rounds); ratios are per round, their median quoted.
// (a) Startup, STARTUP_ROUNDS rounds of LAUNCHES launches per host process: from before the
//     host's spawn (connect(), which spawns) to the initialize answer and to the first
//     tools/list answer. The first launch of each host process is reported apart from the
//     later ones. Goal: latchkey / direct <= 1.10 (time to the first tools/list answer).
// (b) Calls, CALL_ROUNDS rounds of one connection each: after connect + tools/list, the
//     first tools/call of `echo` alone, then CALLS more one after the other, each timed from
//     the request to its answer in the host. Per round the median per call; goal: latchkey /
//     direct of those medians <= 1.05. The first call is reported apart.
// The CLI measured is packages/cli/dist/bin.js (`npm run build`), or LATCHKEY_BENCH_CLI.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { packageBin } from '@latchkey/testkit';
import { benchScript, root, runNode } from './child.js';
import { runIfMain } from './main.js';
import { goal, median, ms, pairRatios, perPair, spread } from './stats.js';

const STARTUP_ROUNDS = 7;
const LAUNCHES = 3;
const CALL_ROUNDS = 5;
const CALLS = 1000;
const STARTUP_GOAL = 1.1;
const CALL_GOAL = 1.05;
const HOST = benchScript('cli-run-host.mjs');
const CONFIG = benchScript('cli-run-config.mjs');
const BUILT_CLI = join(root, 'packages', 'cli', 'dist', 'bin.js');
const CLI = process.env.LATCHKEY_BENCH_CLI ? resolve(process.env.LATCHKEY_BENCH_CLI) : BUILT_CLI;

type Side = 'direct' | 'latchkey' | 'pipe';
const SIDES: readonly Side[] = ['direct', 'latchkey', 'pipe'];
/** Every order of the three sides: round r goes in ORDERS[r % 6]. */
const ORDERS: readonly (readonly Side[])[] = [
  ['direct', 'latchkey', 'pipe'],
  ['latchkey', 'pipe', 'direct'],
  ['pipe', 'direct', 'latchkey'],
  ['direct', 'pipe', 'latchkey'],
  ['pipe', 'latchkey', 'direct'],
  ['latchkey', 'direct', 'pipe'],
];
const LABEL: Record<Side, string> = {
  direct: 'direct',
  latchkey: 'latchkey run',
  pipe: 'bare pipe',
};

interface StartupReport {
  initialize: number[];
  toolsList: number[];
}
interface CallsReport {
  toolsListMs: number;
  firstCallMs: number;
  calls: number[];
  loopMs: number;
}

/** The value below which a share `q` of the values fall (nearest rank). */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

/** Milliseconds under 1 ms in microseconds: "412 µs", else as ms(). */
const fine = (value: number) => (value < 1 ? `${(value * 1000).toFixed(0)} µs` : ms(value));

/** Rounds of one host process per side. */
async function rounds<T>(count: number, run: (side: Side) => Promise<T>) {
  const reports: Record<Side, T[]> = { direct: [], latchkey: [], pipe: [] };
  for (let round = 0; round < count; round += 1) {
    for (const side of ORDERS[round % ORDERS.length] as readonly Side[]) {
      reports[side].push(await run(side));
    }
  }
  return reports;
}

/** a[i] - b[i] for each round. */
const minus = (a: readonly number[], b: readonly number[]) =>
  a.map((value, i) => value - (b[i] as number));

export async function cliRunBench(): Promise<void> {
  console.log(
    `\n## 10. latchkey run (built CLI) between an MCP SDK host and server-everything, against the host spawning the server directly (and a bare pipe relay), new host processes each round, order rotated`,
  );
  if (CLI !== BUILT_CLI) console.log(`CLI measured: ${CLI} (LATCHKEY_BENCH_CLI)`);
  const server = packageBin('@modelcontextprotocol/server-everything', 'mcp-server-everything');
  const tmpDir = await mkdtemp(join(tmpdir(), 'latchkey-bench-cli-run-'));
  try {
    const host = <T>(side: Side, mode: 'startup' | 'calls', count: number) =>
      runNode<T>(HOST, [side, mode, String(count), server, CLI, CONFIG, tmpDir], {
        timeoutMs: 120_000,
      });
    // Untimed: the file cache, and a check that every side answers at all.
    for (const side of SIDES) await host(side, 'startup', 1);

    // (a) Startup.
    const startup = await rounds(STARTUP_ROUNDS, (side) =>
      host<StartupReport>(side, 'startup', LAUNCHES),
    );
    const first = (side: Side, key: keyof StartupReport = 'toolsList') =>
      startup[side].map((r) => r[key][0] as number);
    const later = (side: Side) => startup[side].flatMap((r) => r.toolsList.slice(1));
    const laterMedians = (side: Side) => startup[side].map((r) => median(r.toolsList.slice(1)));
    console.log(
      `(a) host spawn → first tools/list answer, ${STARTUP_ROUNDS} rounds x ${LAUNCHES} launches per host process (the first of each process apart):`,
    );
    for (const side of SIDES) {
      console.log(
        `  ${LABEL[side]}: first ${spread(first(side))}; later ${spread(later(side))} over ${later(side).length}; spawn → initialize answer (first) ${spread(first(side, 'initialize'))}`,
      );
    }
    const firstRatios = perPair(first('latchkey'), first('direct'));
    const laterRatios = perPair(laterMedians('latchkey'), laterMedians('direct'));
    console.log(
      `  latchkey / direct, median of per-round ratios: first launch ${pairRatios(firstRatios)} ${goal(`<= ${STARTUP_GOAL}`, median(firstRatios) <= STARTUP_GOAL)}; later launches ${pairRatios(laterRatios)} ${goal(`<= ${STARTUP_GOAL}`, median(laterRatios) <= STARTUP_GOAL)}; to the initialize answer (first) ${pairRatios(perPair(first('latchkey', 'initialize'), first('direct', 'initialize')))}`,
    );
    console.log(
      `  added per round (first launch): latchkey - direct ${spread(minus(first('latchkey'), first('direct')))}; pipe - direct ${spread(minus(first('pipe'), first('direct')))}; latchkey / pipe ${pairRatios(perPair(first('latchkey'), first('pipe')))}`,
    );

    // (b) Calls.
    const calls = await rounds(CALL_ROUNDS, (side) => host<CallsReport>(side, 'calls', CALLS));
    const firstCall = (side: Side) => calls[side].map((r) => r.firstCallMs);
    const callMedians = (side: Side) => calls[side].map((r) => median(r.calls));
    const p99s = (side: Side) => calls[side].map((r) => quantile(r.calls, 0.99));
    const n = CALLS.toLocaleString('en-US');
    console.log(
      `(b) tools/call echo round trips, ${CALL_ROUNDS} rounds, one connection each: the first call, then ${n} one after the other (per round: the median and the p99 per call):`,
    );
    for (const side of SIDES) {
      console.log(
        `  ${LABEL[side]}: first call ${spread(firstCall(side), fine)}; per call ${spread(callMedians(side), fine)}, p99 ${spread(p99s(side), fine)}; loop of ${n} ${spread(calls[side].map((r) => r.loopMs))}`,
      );
    }
    const callRatios = perPair(callMedians('latchkey'), callMedians('direct'));
    console.log(
      `  latchkey / direct, median of per-round ratios: per call ${pairRatios(callRatios)} ${goal(`<= ${CALL_GOAL}`, median(callRatios) <= CALL_GOAL)}; p99 ${pairRatios(perPair(p99s('latchkey'), p99s('direct')))}; first call ${pairRatios(perPair(firstCall('latchkey'), firstCall('direct')))}`,
    );
    console.log(
      `  added per call: latchkey - direct ${spread(minus(callMedians('latchkey'), callMedians('direct')), fine)}; pipe - direct ${spread(minus(callMedians('pipe'), callMedians('direct')), fine)}; latchkey / pipe ${pairRatios(perPair(callMedians('latchkey'), callMedians('pipe')))}`,
    );
    const shown = (file: string) => (file.startsWith(root) ? relative(root, file) : file);
    console.log(`(CLI ${shown(CLI)}; recipe ${shown(CONFIG)}; server ${shown(server)} stdio)`);
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

await runIfMain(import.meta.url, cliRunBench, { builtFiles: [CLI] });
