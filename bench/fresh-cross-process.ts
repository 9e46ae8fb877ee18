// Benchmark 3: 4 processes x 25 concurrent fresh() calls forcing a refresh, sharing one
// fileStore directory. Across all of them there must be a single token request.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileStore } from '@latchkey/core';
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { PROVIDER_ID, SCOPES, signIn } from './auth.js';
import { goal, max, median, ms, ratio } from './stats.js';

const PROCESSES = 4;
const CALLS_PER_PROCESS = 25;
const ROUNDS = 5;
const CHILD_TIMEOUT_MS = 45_000;
const child = fileURLToPath(new URL('./fresh-child.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));

interface ChildReport {
  latencies: number[];
  before: string;
  hashes: string[];
  refreshed: boolean;
  adopted: boolean;
}

interface Child {
  ready: Promise<void>;
  done: Promise<ChildReport>;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const timer = setTimeout(() => proc.kill(), CHILD_TIMEOUT_MS);
  let out = '';
  let err = '';
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    if (out.startsWith('ready\n')) markReady();
  });
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const done = new Promise<ChildReport>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(timer);
      markReady(); // never leave the parent waiting on a child that died early
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) reject(new Error(`child exited with ${code}: ${last} ${err.trim()}`));
      else resolve(JSON.parse(last) as ChildReport);
    });
  });
  done.catch(() => {});
  return { ready, done };
}

interface Round {
  refreshes: number;
  refreshedIn: number;
  adoptedIn: number;
  startTokens: number;
  tokens: number;
  latencies: number[];
}

async function round(
  server: TestAuthServer,
  directory: string,
  n: number,
  processes: number,
  calls: number,
) {
  const go = join(directory, `go-${n}`);
  const args = [
    server.issuer,
    server.clients.public.clientId,
    PROVIDER_ID,
    SCOPES.join(','),
    directory,
    go,
  ];
  const children = Array.from({ length: processes }, () => startChild([...args, String(calls)]));
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
  } satisfies Round;
}

export async function freshCrossProcess(): Promise<void> {
  const total = PROCESSES * CALLS_PER_PROCESS;
  console.log(
    `\n## 3. ${PROCESSES} processes x ${CALLS_PER_PROCESS} concurrent fresh() forcing a refresh, one fileStore`,
  );
  const server = await startAuthServer({ accessTokenTtl: 3600 });
  const directory = await mkdtemp(join(tmpdir(), 'latchkey-bench-xproc-'));
  try {
    await signIn(server, fileStore({ directory }));
    const singles: number[] = [];
    const rounds: Round[] = [];
    for (let i = 1; i <= ROUNDS; i += 1) {
      // Baseline: one process making one call, the same refresh without any contention.
      singles.push(...(await round(server, directory, -i, 1, 1)).latencies);
      const r = await round(server, directory, i, PROCESSES, CALLS_PER_PROCESS);
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
      `cross-process fresh() latency: median ${ms(median(medians))} (median of ${ROUNDS} round medians over ${total} calls each), max ${ms(max(rounds.flatMap((r) => r.latencies)))}`,
    );
    console.log(
      `one process, one call (baseline): median ${ms(median(singles))} over ${ROUNDS} runs`,
    );
    console.log(`cross-process median / baseline: ${ratio(median(medians) / median(singles))}`);
  } finally {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
}
