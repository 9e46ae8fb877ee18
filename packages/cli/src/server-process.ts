import { type ChildProcess, spawn } from 'node:child_process';
import { LatchkeyError, type SpawnDescription } from '@latchkey/core';
import { lineSplitter, type Message, parseLine, serialize } from './json-rpc.js';
import type { Masker } from './mask.js';

/** How many of a server's last stderr lines an error message quotes. */
const STDERR_LINES = 20;

/** One run of a stdio MCP server: its process, its messages, its stderr masked. */
export interface ServerProcess {
  readonly generation: number;
  readonly pid: number | undefined;
  send(message: Message): boolean;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** The last stderr lines, masked. */
  lastStderr(): string[];
  /** Ends the process: stdin closed, then SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServerProcessOptions {
  description: SpawnDescription;
  generation: number;
  masker: Masker;
  onMessage(message: Message): void;
  /** A line the server wrote to stdout that is not a JSON-RPC message (masked). */
  onJunk(line: string): void;
  /** Each stderr line, masked. */
  onStderr(line: string): void;
}

/** Starts the server of `description`; fails with `SERVER_SPAWN_FAILED` when it cannot run. */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const { description, masker } = options;
  let child: ChildProcess;
  try {
    child = spawn(description.command, [...description.args], {
      env: { ...description.env },
      ...(description.cwd !== undefined ? { cwd: description.cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
  } catch (error) {
    throw spawnFailed(description, error);
  }
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (error) => reject(spawnFailed(description, error)));
  });
  const stderrLines: string[] = [];
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  child.on('error', () => {});
  child.stdin?.on('error', () => {});
  child.stdout?.on(
    'data',
    lineSplitter(
      (line) => {
        const parsed = parseLine(line);
        if (parsed.ok) options.onMessage(parsed.message);
        else options.onJunk(masker.mask(line).slice(0, 500));
      },
      () => options.onJunk('(a line of over 64 MiB)'),
    ),
  );
  child.stderr?.on(
    'data',
    lineSplitter(
      (line) => {
        const masked = masker.mask(line);
        stderrLines.push(masked);
        if (stderrLines.length > STDERR_LINES) stderrLines.shift();
        options.onStderr(masked);
      },
      () => {},
    ),
  );
  let stopping: Promise<void> | undefined;
  return {
    generation: options.generation,
    pid: child.pid,
    exited,
    send(message) {
      if (!child.stdin || child.stdin.destroyed || child.exitCode !== null) return false;
      child.stdin.write(serialize(message));
      return true;
    },
    lastStderr: () => [...stderrLines],
    stop(graceMs = 2000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.stdin?.end();
        const ended = await Promise.race([
          exited.then(() => true),
          delay(graceMs / 2).then(() => false),
        ]);
        if (ended) return;
        child.kill('SIGTERM');
        const terminated = await Promise.race([
          exited.then(() => true),
          delay(graceMs / 2).then(() => false),
        ]);
        if (!terminated) {
          child.kill('SIGKILL');
          await exited;
        }
      })();
      return stopping;
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function spawnFailed(description: SpawnDescription, error: unknown): LatchkeyError {
  const code = (error as { code?: string }).code;
  return new LatchkeyError(
    'SERVER_SPAWN_FAILED',
    `The MCP server "${description.serverId}" could not be started: ${description.command} ${code === 'ENOENT' ? 'was not found (is it installed and on PATH?)' : `failed (${code ?? String(error)})`}. Check the recipe's command in the config file.`,
    { cause: error },
  );
}
