// Runs every benchmark in sequence: `npm run bench` (builds @latchkey/core and @latchkey/browser-extract first).
import { browserExtract } from './browser-extract.js';
import { coldImport } from './cold-import.js';
import { freshConcurrent } from './fresh-concurrent.js';
import { freshCrossProcess } from './fresh-cross-process.js';
import { freshHot } from './fresh-hot.js';
import { launchServerBench } from './launch-server.js';
import { mcpConnect, mcpConnectDpop } from './mcp-connect.js';

const started = performance.now();
await freshHot();
await freshConcurrent();
await freshCrossProcess();
await coldImport();
await browserExtract();
await launchServerBench();
await mcpConnect();
await mcpConnectDpop();
console.log(`\nall benchmarks done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
