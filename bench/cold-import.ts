// Benchmark 4: cold import time of @latchkey/core against the MCP SDK client, each in a
// fresh node process that times its own dynamic import (the built core, by its package name).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runIfMain } from './main.js';
import { goal, median, pairRatios, perPair, spread } from './stats.js';

const RUNS = 15;
const GOAL_RATIO = 1.2;
const root = fileURLToPath(new URL('..', import.meta.url));
const targets = {
  core: '@latchkey/core',
  sdk: '@modelcontextprotocol/sdk/client/index.js',
} as const;
type Target = keyof typeof targets;

/** Milliseconds a fresh `node` process spends in `await import(specifier)`. */
function importMs(specifier: string): Promise<number> {
  const code = `const t = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - t));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', code],
      { cwd: root, timeout: 30_000 },
      (error, stdout, stderr) => {
        const value = Number(stdout);
        if (error || !Number.isFinite(value))
          reject(new Error(`import of ${specifier} failed: ${error ?? ''} ${stderr}`));
        else resolve(value);
      },
    );
  });
}

export async function coldImport(): Promise<void> {
  console.log(`\n## 4. Cold import, fresh node process each, alternated`);
  const times: Record<Target, number[]> = { core: [], sdk: [] };
  for (const name of ['core', 'sdk'] as const) await importMs(targets[name]); // warm the file cache
  for (let run = 0; run < RUNS; run += 1) {
    // Alternate which goes first, so that neither always follows the other.
    const order: Target[] = run % 2 === 0 ? ['core', 'sdk'] : ['sdk', 'core'];
    for (const name of order) times[name].push(await importMs(targets[name]));
  }
  const pairs = perPair(times.core, times.sdk);
  const r = median(pairs);
  console.log(`import('${targets.core}'): ${spread(times.core)} over ${RUNS} runs`);
  console.log(`import('${targets.sdk}'): ${spread(times.sdk)} over ${RUNS} runs`);
  console.log(
    `core / sdk import time, median of per-pair ratios: ${pairRatios(pairs)} ${goal(`<= ${GOAL_RATIO}`, r <= GOAL_RATIO)}`,
  );
}

await runIfMain(import.meta.url, coldImport);
