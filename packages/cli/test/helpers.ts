// Shared by the CLI tests: the command as a host spawns it, its environment, and a run.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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
