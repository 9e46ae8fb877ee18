// Shared by the CLI tests: the command as a host spawns it, its environment, and a run.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { FakeGoogle } from '../../provider-google/test/fixtures/fake-google.js';

const require = createRequire(import.meta.url);
/** The repository root: the CLI runs from its sources there, through tsx. */
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TSX = pathToFileURL(require.resolve('tsx')).href;
const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const TEST_CONFIG = join(FIXTURES, 'test-config.mjs');

/** `latchkey` as a command and arguments, the way an MCP host's config names it. */
export function cli(args: readonly string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--import', TSX, BIN, ...args] };
}

/** The BROWSER value that signs in unattended (paths only: BROWSER is a ':'-separated list). */
export const SIGN_IN_BROWSER = `${process.execPath} --import ${require.resolve('tsx')} ${join(FIXTURES, 'complete-sign-in.ts')}`;

/** A private home for one test: the store and nothing else of the user's. */
export async function tempHome(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-cli-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The environment of a test run: no display, the test's store and config. */
export function cliEnv(
  home: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: home,
    LATCHKEY_HOME: join(home, 'latchkey'),
    LATCHKEY_CONFIG: TEST_CONFIG,
    ...extra,
  };
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one command line to its end. */
export function runCli(
  args: readonly string[],
  env: Record<string, string>,
  options: { input?: string; timeoutMs?: number; keepInputOpen?: boolean } = {},
): Promise<CliResult> {
  const { command, args: full } = cli(args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, full, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`latchkey ${args.join(' ')} did not end in time. stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A host keeps stdin open while it runs the server; closing it ends `run` and `connect`.
    if (options.keepInputOpen) child.stdin.write(options.input ?? '');
    else child.stdin.end(options.input ?? '');
  });
}

/** The host's first request, as a host writes it on `latchkey run`'s stdin. */
export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
} as const;

/**
 * An MCP SDK client connected to a command as a host spawns it through
 * `StdioClientTransport`, and what the command wrote to stderr. The caller closes it.
 */
export async function connectHost(
  spawned: { command: string; args: string[] },
  env: Record<string, string>,
  cwd = ROOT,
): Promise<{ client: Client; stderr(): string }> {
  const transport = new StdioClientTransport({ ...spawned, env, cwd, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const client = new Client({ name: 'test-host', version: '1.0.0' });
  await client.connect(transport, { timeout: 60_000 });
  return { client, stderr: () => stderr };
}

/** A config module with one recipe, `own`: the token server, given `value` as a `Secret`. */
export function ownRecipeModule(value: string): string {
  return [
    "import { defineServer, Secret } from '@latchkey/core';",
    'export const recipes = [',
    '  defineServer({',
    "    id: 'own', name: 'My own server',",
    `    transport: { kind: 'stdio', command: process.execPath, args: [${JSON.stringify(join(FIXTURES, 'token-server.mjs'))}] },`,
    "    credentials: [], refresh: 'self',",
    `    inject: () => ({ env: { TEST_TOKEN: new Secret(${JSON.stringify(value)}) } }),`,
    '  }),',
    '];',
  ].join('\n');
}

/** Writes `<dir>/config.json` naming the fake Google's client, with `recipes` options; its path. */
export async function fakeGoogleConfig(
  dir: string,
  fake: FakeGoogle,
  recipes: Record<string, object> = {},
): Promise<string> {
  const file = join(dir, 'config.json');
  const { clientId, clientSecret } = fake.client;
  const google = { clientId, clientSecret, endpoints: fake.endpoints };
  await writeFile(file, JSON.stringify({ providers: { google }, recipes }));
  return file;
}
