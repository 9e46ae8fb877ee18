// Shared by the launch-*.test.ts files: the fixture server's recipe, real servers' bins,
// plain test credentials, and the checks that nothing is left behind.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  type Credentials,
  defineServer,
  type LatchkeyEvent,
  type McpServerSpec,
  Secret,
  type ServerDefinition,
  type ServerEvent,
} from '../src/index.js';
import { isAlive, launchRoot } from '../src/launch/launch-dir.js';
import type { CredentialReport } from './fixtures/credential-server.js';

const require = createRequire(import.meta.url);

/** `--import` value that lets `node` run TypeScript files. */
export const tsxLoader = pathToFileURL(require.resolve('tsx')).href;

/** The stdio credential fixture's entry file. */
export const fixtureStdio = fileURLToPath(
  new URL('./fixtures/credential-server-stdio.ts', import.meta.url),
);

/** The entry file of an MCP server package's bin, installed as a devDependency. */
export function serverBin(pkg: string, bin: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const bins = JSON.parse(readFileSync(manifest, 'utf8')).bin as Record<string, string>;
  return join(dirname(manifest), bins[bin] as string);
}

/** The same fixture built on the v2 server SDK (`@modelcontextprotocol/server`). */
export const fixtureStdioV2 = fileURLToPath(
  new URL('./fixtures/credential-server-v2.ts', import.meta.url),
);

/**
 * The fixture's recipe: the access token in `FIXTURE_TOKEN` and in the file
 * `token.txt` (`FIXTURE_TOKEN_FILE`), and as a bearer header for http. `script` picks
 * the fixture's entry file (default: the v1 SDK one).
 */
export function fixtureRecipe(
  overrides: Partial<ServerDefinition> & { mode?: string; script?: string } = {},
): McpServerSpec {
  const { mode, script = fixtureStdio, ...rest } = overrides;
  return defineServer({
    id: 'credential-fixture',
    name: 'Credential fixture',
    transport: {
      kind: 'stdio',
      command: process.execPath,
      args: ['--import', tsxLoader, script, ...(mode ? [mode] : [])],
    },
    credentials: ['accessToken'],
    inject: (credentials, context) => ({
      env: {
        FIXTURE_TOKEN: credentials.accessToken,
        FIXTURE_TOKEN_FILE: context.path('token.txt'),
      },
      files: { 'token.txt': credentials.accessToken },
    }),
    ...rest,
  });
}

/** The same fixture reached over http at `url`, with the token as a bearer header. */
export function httpFixtureRecipe(url: string, refresh: 'per-request' | 'restart'): McpServerSpec {
  return defineServer({
    id: 'credential-fixture-http',
    transport: { kind: 'http', url },
    credentials: ['accessToken'],
    refresh,
    inject: (credentials) => ({
      headers: { authorization: new Secret(`Bearer ${credentials.accessToken.reveal()}`) },
    }),
  });
}

/** A random canary token: if it shows up in output, something leaked. */
export function canaryToken(prefix = 'canary'): string {
  return `${prefix}-${randomBytes(18).toString('base64url')}`;
}

/** Plain credentials, as a host that already holds a token would pass them. */
export function plainCredentials(token: string, extra: Partial<Credentials> = {}): Credentials {
  return {
    providerId: 'plain',
    account: 'host-user',
    tokenType: 'bearer',
    accessToken: new Secret(token),
    scopes: [],
    secrets: {},
    metadata: {},
    obtainedAt: Date.now(),
    ...extra,
  };
}

/** Parses the fixture's `credentials` tool answer. */
export function report(result: unknown): CredentialReport {
  const content = (result as CallToolResult).content[0];
  if (content?.type !== 'text') throw new Error('the fixture answered without text');
  return JSON.parse(content.text) as CredentialReport;
}

/** Waits until `check` holds (polling), or throws after `ms`. */
export async function eventually(
  check: () => boolean,
  ms = 10_000,
  what = 'a condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until a process is gone. */
export function processGone(pid: number | undefined, ms = 10_000): Promise<void> {
  return eventually(() => pid === undefined || !isAlive(pid), ms, `process ${pid} to exit`);
}

/** A private temporary directory for one test file's launch directories. */
export async function launchTmp(): Promise<{
  dir: string;
  /** The launch directories currently under it. */
  launchDirs(): string[];
  remove(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-launch-test-'));
  return {
    dir,
    launchDirs: () => {
      const root = launchRoot(dir);
      return existsSync(root) ? readdirSync(root) : [];
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Collects events and anything printable, and finds canary values in them: every
 * event, error (with its cause and stack) and value recorded is searched.
 */
export function leakWatch() {
  const events: (ServerEvent | LatchkeyEvent)[] = [];
  const seen: string[] = [];
  return {
    events,
    onEvent: (event: ServerEvent | LatchkeyEvent) => {
      events.push(event);
    },
    record(value: unknown) {
      seen.push(
        typeof value === 'string' ? value : inspect(value, { depth: 10, showHidden: true }),
      );
      if (value instanceof Error) seen.push(String(value.stack), JSON.stringify(value));
    },
    /** The canaries found in what was recorded. */
    leaks(canaries: Iterable<string>): string[] {
      const haystack = [...seen, JSON.stringify(events), inspect(events, { depth: 10 })].join('\n');
      return [...canaries].filter((c) => haystack.includes(c));
    },
    /** Stderr lines the server printed, masked. */
    stderr(): string[] {
      return events.flatMap((e) => (e.type === 'server_stderr' ? [e.line] : []));
    },
  };
}

export { childPids } from '@latchkey/testkit';
