// Entry of each benchmark script: `npm run bench` runs every one in a process of its own
// (bench/run.ts), so that none measures with another's modules loaded.
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BUILT = ['@latchkey/core', '@latchkey/browser-extract'];

/**
 * Throws unless the packages resolve to their built `dist/`: the root tsconfig maps them to
 * their TypeScript sources, which tsx follows unless started with bench/tsconfig.json.
 */
export function assertBuiltPackages(): void {
  for (const name of BUILT) {
    const resolved = import.meta.resolve(name);
    if (!resolved.includes('/dist/')) {
      throw new Error(
        `${name} resolves to ${resolved}, not to its build: run the benchmarks with npm run bench, or tsx --tsconfig bench/tsconfig.json`,
      );
    }
  }
}

/** Runs `benchmark` when the module at `url` is the entry script of this process. */
export async function runIfMain(url: string, benchmark: () => Promise<void>): Promise<void> {
  if (process.argv[1] !== fileURLToPath(url)) return;
  assertBuiltPackages();
  const built = buildTimes();
  await benchmark();
  // Another build during the run replaces the files the children load.
  if (buildTimes() !== built) {
    console.log(
      'WARNING: the packages were rebuilt during this benchmark: its figures mix two builds',
    );
    process.exitCode = 1;
  }
}

/** When each package's entry was last built, as one string (missing counts as changed). */
function buildTimes(): string {
  return BUILT.map((name) => {
    try {
      return statSync(fileURLToPath(import.meta.resolve(name))).mtimeMs;
    } catch {
      return 'missing';
    }
  }).join(',');
}
