// The config module of benchmark 10 (LATCHKEY_CONFIG): one recipe, `everything`, that runs
// @modelcontextprotocol/server-everything over stdio with no provider and no credentials,
// so `latchkey run everything` signs in to nothing and relays at once. The server's stdio
// entry is LATCHKEY_BENCH_SERVER (bench/cli-run.ts sets it from packageBin()), else the
// package's bin found the same way: plain node, nothing loaded but the built core.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineServer } from '@latchkey/core';

function everythingEntry() {
  const manifest = createRequire(import.meta.url).resolve(
    '@modelcontextprotocol/server-everything/package.json',
  );
  return join(
    dirname(manifest),
    JSON.parse(readFileSync(manifest, 'utf8')).bin['mcp-server-everything'],
  );
}

export const recipes = [
  defineServer({
    id: 'everything',
    name: 'server-everything',
    transport: {
      kind: 'stdio',
      command: process.execPath,
      args: [process.env.LATCHKEY_BENCH_SERVER || everythingEntry(), 'stdio'],
    },
    credentials: [],
    scopes: [],
    refresh: 'self',
    inject: () => ({}),
  }),
];
