// Runs every benchmark in sequence: `npm run bench` (builds every package first with
// `npm run build`, the CLI too: benchmark 10 runs packages/cli/dist/bin.js). Each benchmark
// runs in a node process of its own, so that none measures with the modules of another
// loaded (oidc-provider, the MCP SDK, Chromium's driver), under bench/tsconfig.json, whose
// lack of paths makes the packages resolve to their builds (the root tsconfig maps them to
// their TypeScript sources).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHMARKS = [
  'fresh-hot.ts',
  'fresh-concurrent.ts',
  'fresh-cross-process.ts',
  'cold-import.ts',
  'browser-extract.ts',
  'launch-server.ts',
  'mcp-connect.ts',
  'store.ts',
  'store-postgres.ts',
  'cli-run.ts',
];
const root = fileURLToPath(new URL('..', import.meta.url));
const tsconfig = fileURLToPath(new URL('./tsconfig.json', import.meta.url));

function run(file: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL(`./${file}`, import.meta.url))],
      { cwd: root, stdio: 'inherit', env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig } },
    );
    child.on('error', reject);
    child.on('close', resolve);
  });
}

const started = performance.now();
const failed: string[] = [];
for (const file of BENCHMARKS) {
  const code = await run(file);
  if (code !== 0) failed.push(`${file} (exit ${code})`);
}
console.log(`\nall benchmarks done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (failed.length > 0) {
  console.log(`failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
