// Benchmark 6: launchServer() on @modelcontextprotocol/server-everything, against a bare MCP
// SDK StdioClientTransport + Client.connect() on the same server. Each side runs in a new
// plain node process of its own (bench/launch-child.mjs) that loads only what a host of
// that side loads: Latchkey's process loads the built core, which loads the MCP SDK on the
// first launch (so the first launch of a process is timed apart from the later ones); the
// bare process imports the SDK. Pairs of processes, alternating which side goes first.
// (a) start → first listTools(): the first of each process and the later ones, with the
//     median of per-pair ratios; Latchkey's own work before the spawn (checks, launch
//     directory, stale-directory sweep, inject, files, environment) is timed apart, through
//     spawnDescription(), since the spawn itself dominates and varies with machine load.
// (b) The host process's memory per launched server (RSS and heap), over N servers run at
//     once, in the same pairs of processes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchScript, runNode } from './child.js';
import { runIfMain } from './main.js';
import { goal, int, median, pairRatios, perPair, spread } from './stats.js';

const PAIRS = 9;
const LAUNCHES = 5;
const PREPARE_RUNS = 200;
const SERVERS = 8;
const GOAL_RATIO = 1.05;
const CHILD = benchScript('launch-child.mjs');

type Side = 'bare' | 'latchkey';
interface Report {
  importMs: number;
  launches: number[];
  prepare: number[];
  memory: { rss: number; heap: number };
}

export async function launchServerBench(): Promise<void> {
  console.log(
    `\n## 6. launchServer() → first listTools(), against the bare MCP SDK client, ${PAIRS} pairs of new processes (${LAUNCHES} launches each), alternated`,
  );
  const tmpDir = await mkdtemp(join(tmpdir(), 'latchkey-bench-launch-'));
  try {
    const run = (side: Side) =>
      runNode<Report>(
        CHILD,
        [side, String(LAUNCHES), String(SERVERS), tmpDir, String(PREPARE_RUNS)],
        { execArgv: ['--expose-gc'], timeoutMs: 120_000 },
      );
    await run('bare'); // untimed: the file cache
    await run('latchkey');
    const reports: Record<Side, Report[]> = { bare: [], latchkey: [] };
    for (let pair = 0; pair < PAIRS; pair += 1) {
      // Alternate which goes first, so that neither always follows the other.
      const order: Side[] = pair % 2 === 0 ? ['bare', 'latchkey'] : ['latchkey', 'bare'];
      for (const side of order) reports[side].push(await run(side));
    }
    const first = (side: Side) => reports[side].map((r) => r.launches[0] as number);
    const later = (side: Side) => reports[side].flatMap((r) => r.launches.slice(1));
    const laterMedians = (side: Side) => reports[side].map((r) => median(r.launches.slice(1)));
    const imports = (side: Side) => reports[side].map((r) => r.importMs);
    const withImport = (side: Side) => reports[side].map((r) => r.importMs + (r.launches[0] ?? 0));
    const laterRatios = perPair(laterMedians('latchkey'), laterMedians('bare'));
    const firstRatios = perPair(first('latchkey'), first('bare'));
    const r = median(laterRatios);
    console.log(
      `bare SDK Client.connect() → listTools(): first in the process ${spread(first('bare'))}; later ${spread(later('bare'))} over ${later('bare').length} launches; import of the SDK client ${spread(imports('bare'))}`,
    );
    console.log(
      `launchServer() → listTools(): first in the process ${spread(first('latchkey'))}; later ${spread(later('latchkey'))} over ${later('latchkey').length} launches; import of core and core/sdk-v1 ${spread(imports('latchkey'))}`,
    );
    console.log(
      `launchServer / bare SDK, median of per-pair ratios: later launches ${pairRatios(laterRatios)} ${goal(`<= ${GOAL_RATIO}`, r <= GOAL_RATIO)}; first launch ${pairRatios(firstRatios)} ${goal(`<= ${GOAL_RATIO}`, median(firstRatios) <= GOAL_RATIO)}; import + first launch ${pairRatios(perPair(withImport('latchkey'), withImport('bare')))}`,
    );
    const prepare = reports.latchkey.flatMap((x) => x.prepare);
    console.log(
      `Latchkey's work before the spawn (spawnDescription()): ${spread(prepare)} over ${prepare.length} runs (${PREPARE_RUNS} per process, after its launches)`,
    );
    const kb = (bytes: number) => `${int(bytes / 1024)} KiB`;
    const memory = (side: Side, key: 'rss' | 'heap') => reports[side].map((x) => x.memory[key]);
    console.log(
      `host memory per running server (${SERVERS} at once, ${PAIRS} pairs): launchServer RSS ${spread(memory('latchkey', 'rss'), kb)}, heap ${spread(memory('latchkey', 'heap'), kb)}; bare SDK RSS ${spread(memory('bare', 'rss'), kb)}, heap ${spread(memory('bare', 'heap'), kb)}`,
    );
    console.log(
      `host memory per server, launchServer / bare SDK, per pair: RSS ${pairRatios(perPair(memory('latchkey', 'rss'), memory('bare', 'rss')))}, heap ${pairRatios(perPair(memory('latchkey', 'heap'), memory('bare', 'heap')))}`,
    );
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

await runIfMain(import.meta.url, launchServerBench);
