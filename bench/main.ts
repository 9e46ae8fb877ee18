// Entry of each benchmark script: `npm run bench` runs every one in a process of its own
// (bench/run.ts), so that none measures with another's modules loaded.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BUILT = ['@latchkey/core', '@latchkey/browser-extract'];

/** What a benchmark needs built besides the packages' entries. */
export interface BenchOptions {
  /**
   * Built files it runs that no import resolves to (absolute paths: the CLI's
   * packages/cli/dist/bin.js): they must exist, and a rebuild during the run is reported.
   */
  readonly builtFiles?: readonly string[];
}

/**
 * Throws unless the packages resolve to their built `dist/`: the root tsconfig maps them to
 * their TypeScript sources, which tsx follows unless started with bench/tsconfig.json.
 * Throws too when one of `builtFiles` is missing.
 */
export function assertBuiltPackages(builtFiles: readonly string[] = []): void {
  for (const name of BUILT) {
    const resolved = import.meta.resolve(name);
    if (!resolved.includes('/dist/')) {
      throw new Error(
        `${name} resolves to ${resolved}, not to its build: run the benchmarks with npm run bench, or tsx --tsconfig bench/tsconfig.json`,
      );
    }
  }
  for (const file of builtFiles) {
    if (!existsSync(file)) {
      throw new Error(`${file} is missing: run npm run build (npm run bench builds it first)`);
    }
  }
}

/** Runs `benchmark` when the module at `url` is the entry script of this process. */
export async function runIfMain(
  url: string,
  benchmark: () => Promise<void>,
  options: BenchOptions = {},
): Promise<void> {
  if (process.argv[1] !== fileURLToPath(url)) return;
  const files = options.builtFiles ?? [];
  assertBuiltPackages(files);
  const built = buildTimes(files);
  await benchmark();
  // Another build during the run replaces the files the children load.
  if (buildTimes(files) !== built) {
    console.log(
      'WARNING: the packages were rebuilt during this benchmark: its figures mix two builds',
    );
    process.exitCode = 1;
  }
}

/** When each package's entry and each of `files` was last built, as one string (missing counts as changed). */
function buildTimes(files: readonly string[]): string {
  const mtime = (path: () => string) => {
    try {
      return statSync(path()).mtimeMs;
    } catch {
      return 'missing';
    }
  };
  return [
    ...BUILT.map((name) => mtime(() => fileURLToPath(import.meta.resolve(name)))),
    ...files.map((file) => mtime(() => file)),
  ].join(',');
}
