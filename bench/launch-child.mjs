// One process of benchmark 6, started with --expose-gc. One side only, so the process
// loads what a host of that side loads: `latchkey` imports the built @latchkey/core and
// @latchkey/core/sdk-v1 (which loads the MCP SDK's client itself, on the first launch),
// `bare` imports the MCP SDK client and its stdio transport. Times the import, the first
// start → listTools() of this process and `launches - 1` later ones, then (latchkey)
// spawnDescription() `prepareRuns` times, then the host memory per server with `servers`
// running at once. Prints one JSON line.
// Arguments: latchkey|bare launches servers tmpDir prepareRuns
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const [side, launchesArg, serversArg, tmpDir, prepareArg] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const manifest = require.resolve('@modelcontextprotocol/server-everything/package.json');
const entry = join(
  dirname(manifest),
  JSON.parse(readFileSync(manifest, 'utf8')).bin['mcp-server-everything'],
);
const args = [entry, 'stdio'];

async function loadLatchkey() {
  const [core, { launchServer }] = await Promise.all([
    import('@latchkey/core'),
    import('@latchkey/core/sdk-v1'),
  ]);
  const everything = core.defineServer({
    id: 'everything',
    transport: { kind: 'stdio', command: process.execPath, args },
  });
  const credentials = {
    providerId: 'bench',
    account: 'bench',
    tokenType: 'bearer',
    accessToken: new core.Secret('bench-token-not-used-by-the-server'),
    scopes: [],
    secrets: {},
    metadata: {},
    obtainedAt: Date.now(),
  };
  return {
    start: async () => {
      const server = await launchServer(everything, credentials, { tmpDir });
      return { listTools: () => server.client.listTools(), close: () => server.close() };
    },
    prepare: async () => {
      const description = await core.spawnDescription(everything, credentials, { tmpDir });
      await description.dispose();
    },
  };
}

async function loadBare() {
  const [{ Client }, { StdioClientTransport }] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/stdio.js'),
  ]);
  return {
    start: async () => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args,
        stderr: 'pipe',
      });
      transport.stderr?.on('data', () => {});
      const client = new Client({ name: 'bench', version: '1.0.0' });
      await client.connect(transport);
      return { listTools: () => client.listTools(), close: () => client.close() };
    },
  };
}

/** Milliseconds from starting to the first listTools() answer; closes afterwards (untimed). */
async function timeToTools(start) {
  const t0 = performance.now();
  const running = await start();
  await running.listTools();
  const elapsed = performance.now() - t0;
  await running.close();
  return elapsed;
}

try {
  const t0 = performance.now();
  const loaded = side === 'latchkey' ? await loadLatchkey() : await loadBare();
  const importMs = performance.now() - t0;
  const launches = [];
  for (let i = 0; i < Number(launchesArg); i += 1) launches.push(await timeToTools(loaded.start));
  const prepare = [];
  if (loaded.prepare) {
    for (let i = 0; i < Number(prepareArg); i += 1) {
      const p0 = performance.now();
      await loaded.prepare();
      prepare.push(performance.now() - p0);
    }
  }
  // Host memory added per running server, with `servers` running at once.
  const servers = Number(serversArg);
  globalThis.gc();
  const before = process.memoryUsage();
  const running = await Promise.all(Array.from({ length: servers }, loaded.start));
  await Promise.all(running.map((r) => r.listTools()));
  globalThis.gc();
  const during = process.memoryUsage();
  await Promise.all(running.map((r) => r.close()));
  const memory = {
    rss: (during.rss - before.rss) / servers,
    heap: (during.heapUsed - before.heapUsed) / servers,
  };
  process.stdout.write(`${JSON.stringify({ importMs, launches, prepare, memory })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error?.stack ?? error) })}\n`);
  process.exitCode = 1;
}
