// Runs every benchmark in sequence: `npm run bench` (builds @latchkey/core first).
import { coldImport } from './cold-import.js';
import { freshConcurrent } from './fresh-concurrent.js';
import { freshCrossProcess } from './fresh-cross-process.js';
import { freshHot } from './fresh-hot.js';

const started = performance.now();
await freshHot();
await freshConcurrent();
await freshCrossProcess();
await coldImport();
console.log(`\nall benchmarks done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
