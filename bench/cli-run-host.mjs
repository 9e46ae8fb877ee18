// One host process of benchmark 10: plain node that imports the MCP SDK v1 Client and
// StdioClientTransport and nothing else, as an MCP host does, and spawns one side:
// `direct` spawns server-everything itself (`node <entry> stdio`), `latchkey` spawns
// `node packages/cli/dist/bin.js run everything` (the built CLI, its config module named
// by LATCHKEY_CONFIG, its store in LATCHKEY_HOME), which spawns server-everything and relays,
// `pipe` spawns bench/cli-run-pipe.mjs, which spawns it and pipes the bytes through.
// All get the SDK's default environment (plus the LATCHKEY_ variables and the server's
// entry for latchkey) and the same cwd. Prints one JSON line.
//   startup <launches>: `launches` times in a row, from the spawn (before connect(), which
//     spawns) to the initialize answer and to the first tools/list answer; each closed
//     (untimed) before the next.
//   calls <calls>: one spawn, connect + tools/list, then one tools/call of `echo` timed
//     alone (the first of the connection), then `calls` more one after the other, each
//     timed from the request to its answer.
// Arguments: direct|latchkey|pipe startup|calls count serverEntry cliBin configFile homeDir
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';

const [side, mode, countArg, serverEntry, cliBin, configFile, homeDir] = process.argv.slice(2);
const PIPE = fileURLToPath(new URL('./cli-run-pipe.mjs', import.meta.url));
const count = Number(countArg);
// Far above any startup seen, far below the SDK's 60 s: a hung side fails in a while.
const CONNECT_TIMEOUT_MS = 20_000;

function transport() {
  const params =
    side === 'latchkey'
      ? {
          command: process.execPath,
          args: [cliBin, 'run', 'everything'],
          env: {
            ...getDefaultEnvironment(),
            LATCHKEY_CONFIG: configFile,
            LATCHKEY_HOME: homeDir,
            LATCHKEY_BENCH_SERVER: serverEntry,
          },
        }
      : {
          command: process.execPath,
          args: side === 'pipe' ? [PIPE, serverEntry] : [serverEntry, 'stdio'],
          env: getDefaultEnvironment(),
        };
  const t = new StdioClientTransport({ ...params, cwd: homeDir, stderr: 'pipe' });
  // Drained (both sides write a line at start); the end kept for an error message.
  t.stderr?.on('data', (chunk) => {
    stderrTail = `${stderrTail}${chunk}`.slice(-2000);
  });
  return t;
}
let stderrTail = '';

/** Spawns and connects; the times from before the spawn to the initialize and tools/list answers. */
async function start() {
  const client = new Client({ name: 'bench-host', version: '1.0.0' });
  const t0 = performance.now();
  stderrTail = '';
  try {
    await client.connect(transport(), { timeout: CONNECT_TIMEOUT_MS });
  } catch (error) {
    throw new Error(
      `${side}: no answer to the host's initialize (${error?.message ?? error}); its stderr: ${stderrTail.trim() || '(nothing)'}`,
    );
  }
  const initializeMs = performance.now() - t0;
  const { tools } = await client.listTools();
  const toolsListMs = performance.now() - t0;
  if (!tools.some((tool) => tool.name === 'echo')) throw new Error('no echo tool listed');
  return { client, initializeMs, toolsListMs };
}

const echo = (client, i) => client.callTool({ name: 'echo', arguments: { message: `m${i}` } });

try {
  if (!['direct', 'latchkey', 'pipe'].includes(side)) throw new Error(`unknown side ${side}`);
  if (mode === 'startup') {
    const initialize = [];
    const toolsList = [];
    for (let i = 0; i < count; i += 1) {
      const { client, initializeMs, toolsListMs } = await start();
      initialize.push(initializeMs);
      toolsList.push(toolsListMs);
      await client.close();
    }
    process.stdout.write(`${JSON.stringify({ initialize, toolsList })}\n`);
  } else if (mode === 'calls') {
    const { client, toolsListMs } = await start();
    let t = performance.now();
    const answer = await echo(client, 0);
    const firstCallMs = performance.now() - t;
    if (answer.content?.[0]?.text !== 'Echo: m0') {
      throw new Error(`unexpected echo answer ${JSON.stringify(answer)}`);
    }
    const calls = [];
    const loop0 = performance.now();
    for (let i = 1; i <= count; i += 1) {
      t = performance.now();
      await echo(client, i);
      calls.push(performance.now() - t);
    }
    const loopMs = performance.now() - loop0;
    await client.close();
    process.stdout.write(`${JSON.stringify({ toolsListMs, firstCallMs, calls, loopMs })}\n`);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error?.stack ?? error) })}\n`);
  process.exitCode = 1;
}
