import { LatchkeyError } from '../errors.js';
import type { McpSdk, SdkClient, SdkHttpTransport, SdkTransport } from './mcp-sdk.js';
import type { StdioLaunch } from './spawn-description.js';
import { type Masker, splitStderr } from './stderr-masking.js';

/** One running server (one generation of a launch), connected to the host's `Client`. Internal. */
export interface Connection {
  /** The process id (stdio). */
  readonly pid: number | undefined;
  /** Settles when the process (stdio) or the transport (http) has closed. */
  readonly closed: Promise<void>;
  /** The last stderr lines, masked, once the stream has ended (waits at most 1 s). */
  stderrTail(): Promise<string[]>;
  /** Stops the server, bounded; the `Client` is free for the next connection afterwards. */
  stop(): Promise<void>;
  /** Kills the process at once (exit and signal handlers). */
  killSync(): void;
}

/** What both transports need. Internal. */
export interface ConnectOptions {
  /** The SDK line the host uses. */
  sdk: McpSdk;
  client: SdkClient;
  /** `"Name" (id)`, for messages. */
  label: string;
  masker: Masker;
  startTimeoutMs: number;
  /** What `connect()` may wait for the handshake (the start's budget, less an era probe's). */
  handshakeTimeoutMs: number;
  closeTimeoutMs: number;
  /** Aborts the start; its reason is thrown as is when it is a `LatchkeyError`. */
  signal: AbortSignal;
  /** Called synchronously when the connection closes, before pending requests fail. */
  onClose(): void;
}

/** Resolves with `promise`, or with `undefined` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function signalPid(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function cancelled(signal: AbortSignal, label: string): LatchkeyError {
  return signal.reason instanceof LatchkeyError
    ? signal.reason
    : new LatchkeyError('AUTH_CANCELLED', `Starting the MCP server ${label} was cancelled.`);
}

function stderrBlock(lines: string[]): string {
  const last = lines.slice(-10).map((l) => `  ${l.slice(0, 300)}`);
  return last.length > 0
    ? ` Its last stderr lines:\n${last.join('\n')}`
    : ' It wrote nothing to stderr.';
}

/** The `SERVER_EXITED` error for a server that stopped by itself. */
export function exitedError(label: string, when: string, stderr: string[]): LatchkeyError {
  return new LatchkeyError(
    'SERVER_EXITED',
    `The MCP server ${label} exited ${when}. Check its configuration and credentials.${stderrBlock(stderr)}`,
  );
}

/** Connects the client over `transport`: the era probe, if any, and the handshake, bounded. */
function handshake(options: ConnectOptions, transport: SdkTransport): Promise<void> {
  return options.client.connect(transport, {
    timeout: options.handshakeTimeoutMs,
    signal: options.signal,
  });
}

/** Creates the bookkeeping both transports share: the closed promise and the stop sequence. */
function track(options: ConnectOptions, transport: SdkTransport) {
  let isClosed = false;
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  // Set before connect(): the SDK's Client chains its own handler after this one.
  transport.onclose = () => {
    if (isClosed) return;
    isClosed = true;
    options.onClose();
    resolveClosed();
  };
  /** Leaves the Client without a transport, even if the transport never reported closing. */
  const release = () => {
    if (options.client.transport === transport) transport.onclose?.();
  };
  return {
    closed,
    get isClosed() {
      return isClosed;
    },
    release,
  };
}

/** The spawn error behind a failed start, if the command could not be run at all. */
function spawnFailure(error: unknown): { code?: unknown } | undefined {
  // The v2 SDK may wrap it (its era probe spawns first); look one level down too.
  for (const candidate of [error, (error as { cause?: unknown } | null)?.cause]) {
    const syscall = (candidate as { syscall?: unknown } | null)?.syscall;
    if (typeof syscall === 'string' && syscall.startsWith('spawn')) {
      return candidate as { code?: unknown };
    }
  }
  return undefined;
}

/** Spawns a stdio server with the SDK's transport and connects the client to it. */
export async function connectStdio(
  options: ConnectOptions & { launch: StdioLaunch; onStderrLine(line: string): void },
): Promise<Connection> {
  const { client, launch, label, masker, sdk } = options;
  const StdioClientTransport = await sdk.stdio();
  const transport = new StdioClientTransport({
    command: launch.command,
    args: launch.args,
    env: launch.env,
    ...(launch.cwd !== undefined ? { cwd: launch.cwd } : {}),
    stderr: 'pipe',
  });
  const state = track(options, transport);
  let pid: number | undefined;
  const start = transport.start.bind(transport);
  transport.start = async () => {
    await start();
    pid = transport.pid ?? undefined;
  };

  const lines = splitStderr({ masker, onLine: options.onStderrLine });
  let stderrEnded = false;
  const stderrDone = new Promise<void>((resolve) => {
    const stream = transport.stderr;
    if (!stream) {
      resolve();
      return;
    }
    stream.on('data', (chunk: Buffer) => lines.push(chunk));
    stream.on('error', () => {});
    stream.on('end', () => {
      lines.end();
      stderrEnded = true;
      resolve();
    });
  });
  const stderrTail = async () => {
    if (!stderrEnded) await within(stderrDone, 1000);
    return lines.tail();
  };

  const stop = async () => {
    if (!state.isClosed) {
      // The SDK closes stdin, then sends SIGTERM after 2 s and SIGKILL after 4 s.
      await within(
        client.close().catch(() => {}),
        options.closeTimeoutMs,
      );
      if (!state.isClosed) {
        signalPid(pid, 'SIGKILL');
        await within(state.closed, 2000);
      }
    }
    state.release();
  };

  try {
    await handshake(options, transport);
  } catch (error) {
    await stop();
    if (options.signal.aborted) throw cancelled(options.signal, label);
    const spawnError = spawnFailure(error);
    if (spawnError) {
      const command = masker.mask(launch.command);
      throw new LatchkeyError(
        'SERVER_SPAWN_FAILED',
        spawnError.code === 'ENOENT'
          ? `Could not start the MCP server ${label}: the command "${command}" was not found. Install it, or give its absolute path.`
          : `Could not start the MCP server ${label} with the command "${command}" (${String(spawnError.code)}).`,
      );
    }
    const timedOut = sdk.isTimeout(error);
    if (state.isClosed && !timedOut) {
      throw exitedError(label, 'while starting, before it answered initialize', await stderrTail());
    }
    if (timedOut) {
      throw new LatchkeyError(
        'SERVER_SPAWN_FAILED',
        `The MCP server ${label} did not answer ${options.sdk.handshake} within ${Math.round(options.startTimeoutMs / 1000)} s, so it was stopped.${stderrBlock(await stderrTail())}`,
      );
    }
    throw new LatchkeyError(
      'SERVER_SPAWN_FAILED',
      `The MCP server ${label} failed to start: ${masker.mask(error instanceof Error ? error.message : String(error)).slice(0, 300)}.${stderrBlock(await stderrTail())}`,
    );
  }

  return {
    get pid() {
      return pid;
    },
    closed: state.closed,
    stderrTail,
    stop,
    killSync() {
      if (!state.isClosed) signalPid(pid, 'SIGKILL');
    },
  };
}

/**
 * Connects the client to an HTTP server through a `fetch` that adds credentials:
 * Streamable HTTP, or the older HTTP+SSE transport when the server answers the first
 * POST with 400, 404 or 405.
 *
 * @see https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#backwards-compatibility
 */
export async function connectHttp(
  options: ConnectOptions & { url: string; fetch: typeof fetch },
): Promise<Connection> {
  const { client, label, masker, sdk } = options;
  const StreamableHTTPClientTransport = await sdk.http();
  const url = new URL(options.url);
  const streamable: SdkHttpTransport = new StreamableHTTPClientTransport(url, {
    fetch: options.fetch,
  });
  let transport: SdkTransport = streamable;
  let state = track(options, transport);
  const stop = async () => {
    if (!state.isClosed) {
      if (transport === streamable) {
        await within(
          streamable.terminateSession().catch(() => {}),
          options.closeTimeoutMs,
        );
      }
      await within(
        client.close().catch(() => {}),
        options.closeTimeoutMs,
      );
    }
    state.release();
  };
  try {
    try {
      await handshake(options, transport);
    } catch (error) {
      if (!sdk.isOlderTransportAnswer(error) || options.signal.aborted) throw error;
      const SSEClientTransport = await sdk.sse();
      state.release();
      transport = new SSEClientTransport(url, { fetch: options.fetch });
      state = track(options, transport);
      await handshake(options, transport);
    }
  } catch (error) {
    await stop();
    if (options.signal.aborted) throw cancelled(options.signal, label);
    if (error instanceof LatchkeyError) throw error;
    const message = masker.mask(error instanceof Error ? error.message : String(error));
    if (error instanceof TypeError) {
      throw new LatchkeyError(
        'NETWORK_ERROR',
        `Could not reach the MCP server ${label} at ${options.url}: ${message.slice(0, 300)}.`,
      );
    }
    throw new LatchkeyError(
      'SERVER_SPAWN_FAILED',
      `Could not connect to the MCP server ${label} at ${options.url}: ${message.slice(0, 300)}.`,
    );
  }
  return {
    pid: undefined,
    closed: state.closed,
    stderrTail: async () => [],
    stop,
    killSync() {},
  };
}
