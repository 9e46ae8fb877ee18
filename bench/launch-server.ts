// Benchmark 6: launchServer() on @modelcontextprotocol/server-everything.
// (a) launchServer() → first listTools(), against a bare MCP SDK StdioClientTransport +
//     Client.connect() → listTools() on the same server, alternated; the median of the
//     per-pair ratios is reported. Latchkey's own work before the spawn (checks, launch
//     directory, stale-directory sweep, inject, files, environment) is timed apart, through
//     spawnDescription(), since the spawn itself dominates and varies with machine load.
// (b) The host process's memory per launched server (RSS and heap), over N servers run at
//     once, for launchServer() and for the bare SDK client.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Credentials, defineServer, Secret, spawnDescription } from '@latchkey/core';
import { launchServer } from '@latchkey/core/sdk-v1';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { goal, int, median, ms, ratio } from './stats.js';

const RUNS = 21;
const PREPARE_RUNS = 200;
const SERVERS = 8;
const GOAL_RATIO = 1.05;

const require = createRequire(import.meta.url);
const manifest = require.resolve('@modelcontextprotocol/server-everything/package.json');
const entry = join(
  dirname(manifest),
  (JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> }).bin[
    'mcp-server-everything'
  ] as string,
);
const args = [entry, 'stdio'];
const everything = defineServer({
  id: 'everything',
  transport: { kind: 'stdio', command: process.execPath, args },
});
const credentials: Credentials = {
  providerId: 'bench',
  account: 'bench',
  tokenType: 'bearer',
  accessToken: new Secret('bench-token-not-used-by-the-server'),
  scopes: [],
  secrets: {},
  metadata: {},
  obtainedAt: Date.now(),
};

interface Running {
  listTools(): Promise<unknown>;
  close(): Promise<void>;
}

async function bare(): Promise<Running> {
  const transport = new StdioClientTransport({ command: process.execPath, args, stderr: 'pipe' });
  transport.stderr?.on('data', () => {});
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(transport);
  return { listTools: () => client.listTools(), close: () => client.close() };
}

async function latchkey(tmpDir: string): Promise<Running> {
  const server = await launchServer(everything, credentials, { tmpDir });
  return { listTools: () => server.client.listTools(), close: () => server.close() };
}

/** Milliseconds from starting to the first listTools() answer; closes afterwards (untimed). */
async function timeToTools(start: () => Promise<Running>): Promise<number> {
  const t0 = performance.now();
  const running = await start();
  await running.listTools();
  const elapsed = performance.now() - t0;
  await running.close();
  return elapsed;
}

/** Host memory added per running server, with N running at once. */
async function memoryPerServer(start: () => Promise<Running>, gc: () => void) {
  gc();
  const before = process.memoryUsage();
  const running = await Promise.all(Array.from({ length: SERVERS }, start));
  await Promise.all(running.map((r) => r.listTools()));
  gc();
  const during = process.memoryUsage();
  await Promise.all(running.map((r) => r.close()));
  return {
    rss: (during.rss - before.rss) / SERVERS,
    heap: (during.heapUsed - before.heapUsed) / SERVERS,
  };
}

export async function launchServerBench(): Promise<void> {
  console.log('\n## 6. launchServer() → first listTools(), against the bare MCP SDK client');
  const tmpDir = await mkdtemp(join(tmpdir(), 'latchkey-bench-launch-'));
  try {
    const times = { bare: [] as number[], latchkey: [] as number[] };
    const ratios: number[] = [];
    for (let i = 0; i < 2; i += 1) {
      await timeToTools(bare);
      await timeToTools(() => latchkey(tmpDir));
    }
    for (let run = 0; run < RUNS; run += 1) {
      // Alternate which goes first, so that neither always follows the other.
      const pair = { bare: 0, latchkey: 0 };
      for (const name of run % 2 === 0
        ? (['bare', 'latchkey'] as const)
        : (['latchkey', 'bare'] as const)) {
        pair[name] = await timeToTools(name === 'bare' ? bare : () => latchkey(tmpDir));
        times[name].push(pair[name]);
      }
      ratios.push(pair.latchkey / pair.bare);
    }
    const r = median(ratios);
    console.log(
      `bare SDK Client.connect() → listTools(): median ${ms(median(times.bare))} over ${RUNS} runs`,
    );
    console.log(
      `launchServer() → listTools(): median ${ms(median(times.latchkey))} over ${RUNS} runs`,
    );
    console.log(
      `launchServer / bare SDK, median of per-pair ratios: ${ratio(r)} ${goal(`<= ${GOAL_RATIO}`, r <= GOAL_RATIO)}`,
    );

    const prepare: number[] = [];
    for (let run = 0; run < PREPARE_RUNS; run += 1) {
      const t0 = performance.now();
      const description = await spawnDescription(everything, credentials, { tmpDir });
      prepare.push(performance.now() - t0);
      await description.dispose();
    }
    console.log(
      `Latchkey's work before the spawn (spawnDescription()): median ${ms(median(prepare))} over ${PREPARE_RUNS} runs`,
    );

    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const sdk = await memoryPerServer(bare, gc);
    const ours = await memoryPerServer(() => latchkey(tmpDir), gc);
    const kb = (bytes: number) => `${int(bytes / 1024)} KiB`;
    console.log(
      `host memory per running server (${SERVERS} at once): launchServer RSS ${kb(ours.rss)}, heap ${kb(ours.heap)}; bare SDK RSS ${kb(sdk.rss)}, heap ${kb(sdk.heap)}`,
    );
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}
