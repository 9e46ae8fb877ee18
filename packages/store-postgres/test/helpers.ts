import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import {
  type AuthProvider,
  authenticate,
  type CredentialStore,
  defineProvider,
  isLatchkeyError,
  type LatchkeyErrorCode,
  type Session,
} from '@latchkey/core';
import { completeAuthorization, type TestAuthServer } from '@latchkey/testkit';
import { expect } from 'vitest';

/** The repository root: children run from there, so tsx maps @latchkey/* to the sources. */
export const root = fileURLToPath(new URL('../../..', import.meta.url));
/** The child process of the cross-process tests. */
export const childScript = fileURLToPath(new URL('./fixtures/store-child.ts', import.meta.url));

let schemas = 0;
/** A schema name no other test of this process uses. */
export function freshSchema(prefix = 's'): string {
  schemas += 1;
  return `${prefix}_${process.pid}_${schemas}`;
}

/** The provider of the test authorization server's public client. */
export function testProvider(server: TestAuthServer): AuthProvider {
  return defineProvider({
    id: 'test-as',
    strategy: {
      kind: 'oauth',
      issuer: server.issuer,
      clientId: server.clients.public.clientId,
      scopes: ['openid', 'email', 'read'],
    },
  });
}

/** Signs the test server's user in through its browser-less user agent, into `store`. */
export function signInUnattended(server: TestAuthServer, store: CredentialStore): Promise<Session> {
  return authenticate(testProvider(server), {
    store,
    timeoutMs: 20_000,
    openUrl: (url) => {
      completeAuthorization(url).catch(() => {});
    },
  });
}

/** A random 32-byte key-encryption key. */
export function newKey(): Buffer {
  return randomBytes(32);
}

/** Runs `fn` and returns what it threw, failing the test when it did not throw. */
export async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the call succeeded');
}

/** Asserts that `error` is a LatchkeyError with `code`, showing the error when it is not. */
export function expectCode(error: unknown, code: LatchkeyErrorCode): void {
  expect(
    isLatchkeyError(error, code),
    `expected ${code}, got ${inspect(error, { depth: 3 })}`,
  ).toBe(true);
}

/** Everything of an error that could show a secret: message, stack, causes, own fields. */
export function everythingOf(error: unknown): string {
  return [
    inspect(error, { depth: 10, showHidden: true }),
    error instanceof Error ? String(error.stack) : '',
    JSON.stringify(error, Object.getOwnPropertyNames(error ?? {})),
  ].join('\n');
}

/** A child process of {@link childScript}, speaking JSON lines on stdout. */
export interface Child {
  readonly process: ChildProcess;
  /** Resolves with the next line whose `event` is `event` (lines already seen count too). */
  next(event: string): Promise<Record<string, unknown>>;
  /** Every line it printed so far. */
  readonly lines: Record<string, unknown>[];
  /** Writes a command line to its stdin. */
  send(command: string): void;
  /** Resolves with the exit code once it has exited. */
  readonly exited: Promise<number | null>;
}

/** Starts `store-child.ts` with `args` (its first is the command). */
export function startChild(args: string[], options: { timeoutMs?: number } = {}): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { event: 'text', text };
    }
    lines.push(line);
    for (const listener of [...listeners]) listener();
  });
  const taken = new Map<string, number>();
  return {
    process: child,
    lines,
    send(command) {
      child.stdin?.write(`${command}\n`);
    },
    exited,
    next(event) {
      // Each call takes the next line of that event that no earlier call took.
      const index = taken.get(event) ?? 0;
      taken.set(event, index + 1);
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.filter((l) => l.event === event)[index];
          if (found === undefined) return false;
          listeners.delete(check);
          resolve(found);
          return true;
        };
        if (check()) return;
        listeners.add(check);
        exited.then((code) => {
          if (check()) return;
          listeners.delete(check);
          reject(
            new Error(
              `child ${args[0]} exited (${code}) before printing ${event}; stdout ${JSON.stringify(lines)}; stderr ${stderr.slice(-2000)}`,
            ),
          );
        });
      });
    },
  };
}

/** Kills every child still running, with SIGKILL, and waits for them. */
export async function killAll(children: Child[]): Promise<void> {
  for (const child of children) {
    if (child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGKILL');
    }
  }
  await Promise.all(children.map((c) => c.exited));
}
