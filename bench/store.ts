// Benchmark 9: the credential store with many logins. fileStore() in a fresh temp directory
// prefilled (with its own set()) with 10, 1,000 and 10,000 OAuth logins of about 500 bytes
// each, spread over 4 providers, against memoryStore() holding the same logins as the
// baseline. Per size: set() (a token rotation write of one login), get(), and
// authenticate(provider, { store, interactive: false, account }) reusing that login (with a
// fetch that throws: reuse of a valid token contacts nobody). Each measurement runs in a
// new plain node process loading only the built @latchkey/core (bench/store-child.mjs),
// which times its first calls and then later ones; per round, every size of both stores,
// file and memory alternating which goes first. Also the longest event-loop stall during a
// set() (a setImmediate ping loop, so a synchronous write or parse shows in full), beside the
// same stall for a bare write and fdatasync of the same bytes (no store code) alternating
// with it: the part of the stall that the disk and the machine's scheduling cause anyway.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchScript, runNode } from './child.js';
import { runIfMain } from './main.js';
import { goal, int, max, median, ms, pairRatios, perPair, spread } from './stats.js';

const SIZES = [10, 1_000, 10_000] as const;
type Size = (typeof SIZES)[number];
const ROUNDS = 5;
const CALLS = 30;
const GOAL_MS = 2;
const GOAL_RATIO = 1.5;
const GOAL_STALL_MS = 5;
const CHILD = benchScript('store-child.mjs');
const OPS = ['set', 'get', 'authenticate'] as const;
type Op = (typeof OPS)[number];
type Kind = 'file' | 'memory';

interface Report {
  first: Record<Op, number>;
  later: Record<Op, number[]>;
  stalls: number[];
  floorStalls: number[];
  fetches: number;
  recordBytes: number;
}

/** Bytes in every file under `directory`, whatever layout the store uses. */
async function directoryBytes(directory: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

const LABELS: Record<Op, string> = {
  set: 'set() (token rotation of one login)',
  get: 'get()',
  authenticate: 'authenticate() reuse, interactive: false',
};

export async function storeBench(): Promise<void> {
  console.log(
    `\n## 9. Credential store with 10, 1,000 and 10,000 logins: fileStore() against memoryStore(), new process each, ${ROUNDS} rounds x ${CALLS} calls, alternated`,
  );
  const base = await mkdtemp(join(tmpdir(), 'latchkey-bench-store-'));
  try {
    const directories = {} as Record<Size, string>;
    for (const size of SIZES) {
      const directory = join(base, String(size));
      directories[size] = directory;
      const { ms: took } = await runNode<{ ms: number }>(CHILD, ['prefill', directory, `${size}`], {
        timeoutMs: 15 * 60_000,
      });
      console.log(
        `prefilled ${int(size)} logins with fileStore().set(): ${(took / 1000).toFixed(1)} s (${ms(took / size)} per set() on average), ${int((await directoryBytes(directory)) / 1024)} KiB on disk`,
      );
    }

    const results: Record<Kind, Record<Size, Report[]>> = {
      file: { 10: [], 1000: [], 10000: [] },
      memory: { 10: [], 1000: [], 10000: [] },
    };
    for (let round = 0; round < ROUNDS; round += 1) {
      // Alternate which store goes first, and the order of the sizes, round by round.
      const kinds: Kind[] = round % 2 === 0 ? ['file', 'memory'] : ['memory', 'file'];
      const sizes = round % 2 === 0 ? SIZES : [...SIZES].reverse();
      for (const size of sizes) {
        for (const kind of kinds) {
          const report = await runNode<Report>(
            CHILD,
            ['measure', kind, `${size}`, directories[size], `${CALLS}`],
            { timeoutMs: 10 * 60_000 },
          );
          results[kind][size].push(report);
        }
      }
    }

    const later = (kind: Kind, size: Size, op: Op) =>
      results[kind][size].flatMap((r) => r.later[op]);
    const roundMedians = (kind: Kind, size: Size, op: Op) =>
      results[kind][size].map((r) => median(r.later[op]));
    const first = (kind: Kind, size: Size, op: Op) => results[kind][size].map((r) => r.first[op]);
    const bytes = median(results.file[10].map((r) => r.recordBytes));
    const fetches = SIZES.flatMap((s) => [...results.file[s], ...results.memory[s]]).reduce(
      (sum, r) => sum + r.fetches,
      0,
    );
    console.log(`record size: ${bytes} bytes of JSON per login`);
    for (const op of OPS) {
      console.log(`${LABELS[op]}:`);
      for (const size of SIZES) {
        const file = median(later('file', size, op));
        console.log(
          `  ${int(size)} logins: fileStore ${spread(later('file', size, op))} ${goal(`<= ${GOAL_MS} ms`, file <= GOAL_MS)}, first call in the process ${spread(first('file', size, op))}; memoryStore ${spread(later('memory', size, op))}, first call ${spread(first('memory', size, op))}; fileStore / memoryStore per round ${pairRatios(perPair(roundMedians('file', size, op), roundMedians('memory', size, op)))}`,
        );
      }
      const growth = perPair(roundMedians('file', 10_000, op), roundMedians('file', 10, op));
      const memoryGrowth = perPair(
        roundMedians('memory', 10_000, op),
        roundMedians('memory', 10, op),
      );
      const firstGrowth = perPair(first('file', 10_000, op), first('file', 10, op));
      console.log(
        `  10,000 / 10 logins, per round: fileStore ${pairRatios(growth)} ${goal(`<= ${GOAL_RATIO}`, median(growth) <= GOAL_RATIO)}, first call ${pairRatios(firstGrowth)}; memoryStore ${pairRatios(memoryGrowth)}`,
      );
    }
    console.log(
      'longest event-loop stall during one set() (setImmediate ping loop), and the floor: a bare write and fdatasync of the same bytes with plain fs calls, alternating with the set() calls in the same process:',
    );
    for (const size of SIZES) {
      const file = results.file[size].flatMap((r) => r.stalls);
      const floor = results.file[size].flatMap((r) => r.floorStalls);
      const memory = results.memory[size].flatMap((r) => r.stalls);
      const stall = `fileStore ${spread(file)} over ${file.length} set() calls, longest ${ms(max(file))}`;
      const verdict =
        size === 10_000
          ? ` ${goal(`longest <= ${GOAL_STALL_MS} ms`, max(file) <= GOAL_STALL_MS)}`
          : '';
      console.log(
        `  ${int(size)} logins: ${stall}${verdict}; floor ${spread(floor)}, longest ${ms(max(floor))}; memoryStore ${spread(memory)}, longest ${ms(max(memory))}`,
      );
    }
    console.log(`requests the reuses tried to make (a fetch that throws): ${fetches} (expected 0)`);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

await runIfMain(import.meta.url, storeBench);
