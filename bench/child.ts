// Child processes for the benchmarks: plain `node` running a bench/*.mjs script that loads
// the built packages and nothing the measured side would not load itself (no TypeScript
// loader, no oidc-provider, no MCP SDK unless that side loads it).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** The absolute path of a script in bench/. */
export const benchScript = (name: string): string =>
  fileURLToPath(new URL(`./${name}`, import.meta.url));

export interface NodeChildOptions {
  /** Flags for node itself, before the script (`--expose-gc`). */
  readonly execArgv?: readonly string[];
  /** Killed after this long; default 60 s. */
  readonly timeoutMs?: number;
  /** Called with each message the child sends over its IPC channel. */
  readonly onMessage?: (message: unknown, child: ChildProcess) => void;
}

export interface NodeChild<T> {
  /** Resolves once the child printed a line `ready` (or exited). */
  readonly ready: Promise<void>;
  /** The child's last stdout line, parsed as JSON, once it exited with 0. */
  readonly done: Promise<T>;
  /** Spawn to exit, in ms, once it exited. */
  readonly elapsed: Promise<number>;
  readonly process: ChildProcess;
}

/** Starts `node <script> ...args`; the last line it prints is its JSON report. */
export function startNode<T>(
  script: string,
  args: readonly string[],
  options: NodeChildOptions = {},
): NodeChild<T> {
  const started = performance.now();
  const proc = spawn(process.execPath, [...(options.execArgv ?? []), script, ...args], {
    cwd: root,
    stdio: options.onMessage ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const timer = setTimeout(() => proc.kill(), options.timeoutMs ?? 60_000);
  let out = '';
  let err = '';
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    if (/(^|\n)ready\n/.test(out)) markReady();
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  if (options.onMessage) {
    const onMessage = options.onMessage;
    proc.on('message', (message) => onMessage(message, proc));
  }
  let markElapsed = (_ms: number) => {};
  const elapsed = new Promise<number>((resolve) => {
    markElapsed = resolve;
  });
  const done = new Promise<T>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(timer);
      markElapsed(performance.now() - started);
      markReady(); // never leave the parent waiting on a child that died early
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) {
        reject(new Error(`${script} ${args[0] ?? ''} exited with ${code}: ${last} ${err.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${script} printed no JSON report: ${last} ${err.trim()}`));
      }
    });
  });
  done.catch(() => {});
  return { ready, done, elapsed, process: proc };
}

/** Runs a child to its end and returns its report. */
export function runNode<T>(
  script: string,
  args: readonly string[],
  options: NodeChildOptions = {},
): Promise<T> {
  return startNode<T>(script, args, options).done;
}
