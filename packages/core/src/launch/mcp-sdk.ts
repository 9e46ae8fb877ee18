import type { Stream } from 'node:stream';
import { LatchkeyError } from '../errors.js';

/**
 * What a launch needs from an MCP SDK line, whichever the host installed: the `Client`,
 * the transports, and how to read the SDK's errors. `@latchkey/core/sdk-v1` and
 * `@latchkey/core/sdk-v2` each bind one line; the rest of the launch code is the same for
 * both. Every module is loaded on first use: hosts that only sign in never pay for one,
 * and a launch loads only the transport it uses. Internal.
 */
export interface McpSdk {
  /** The npm package, for messages (`@modelcontextprotocol/sdk`, `@modelcontextprotocol/client`). */
  readonly packageName: string;
  /**
   * Makes a `Client`, not connected, for a start that may take `startTimeoutMs` in all;
   * `handshakeTimeoutMs` is what its `connect()` may wait for the handshake itself (the
   * rest goes to an era probe before it, if any).
   */
  client(
    info: ClientInfo,
    options: object | undefined,
    startTimeoutMs: number,
  ): Promise<{ client: SdkClient; handshakeTimeoutMs: number }>;
  /** The handshake's name, for messages. */
  readonly handshake: string;
  /** The stdio transport class. */
  stdio(): Promise<new (params: StdioParams) => SdkStdioTransport>;
  /** The Streamable HTTP transport class. */
  http(): Promise<new (url: URL, options: { fetch: typeof fetch }) => SdkHttpTransport>;
  /** The older HTTP+SSE transport class. */
  sse(): Promise<new (url: URL, options: { fetch: typeof fetch }) => SdkTransport>;
  /** Whether a failed Streamable HTTP connect means the server speaks only HTTP+SSE. */
  isOlderTransportAnswer(error: unknown): boolean;
  /** Whether an error is the SDK's request timeout. */
  isTimeout(error: unknown): boolean;
}

/** How a client introduces itself in `initialize` (both lines: `Implementation`). */
export interface ClientInfo {
  name: string;
  version: string;
  [key: string]: unknown;
}

/** The part of a transport both SDK lines share and a launch uses. Internal. */
export interface SdkTransport {
  onclose?: (() => void) | undefined;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The stdio transport's extras. Internal. */
export interface SdkStdioTransport extends SdkTransport {
  readonly pid: number | null;
  readonly stderr: Stream | null;
}

/** The Streamable HTTP transport's extras. Internal. */
export interface SdkHttpTransport extends SdkTransport {
  terminateSession(): Promise<void>;
}

/** What the stdio transport is given. Internal. */
export interface StdioParams {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  stderr: 'pipe';
}

/** The part of a `Client` a launch uses. Internal. */
export interface SdkClient {
  readonly transport: unknown;
  // biome-ignore lint/suspicious/noExplicitAny: each SDK line types its own transport parameter.
  connect(transport: any, options?: { timeout?: number; signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}

/** Loads a module once; a failed load is tried again next time. */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load();
    loading.catch(() => {
      loading = undefined;
    });
    return loading;
  };
}

/**
 * Imports one of the SDK's modules; a package that is not installed becomes
 * `SDK_NOT_INSTALLED`, naming the package to add.
 */
export async function importSdk<T>(
  packageName: string,
  entry: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new LatchkeyError(
        'SDK_NOT_INSTALLED',
        `Launching MCP servers from ${entry} needs the MCP SDK package ${packageName}, which is not installed. Add it to the app (npm install ${packageName}), or import launchServer from the entry for the SDK the app uses (@latchkey/core/sdk-v1 for @modelcontextprotocol/sdk, @latchkey/core/sdk-v2 for @modelcontextprotocol/client).`,
        { cause: error },
      );
    }
    throw error;
  }
}
