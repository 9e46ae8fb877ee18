/**
 * `launchServer()` for hosts on the MCP SDK's 1.x line, `@modelcontextprotocol/sdk`
 * (1.24.1 and later). The `client` of a launched server is that SDK's own `Client`,
 * from the copy the host installed.
 *
 * @example
 * ```ts
 * import { authenticate } from '@latchkey/core';
 * import { launchServer } from '@latchkey/core/sdk-v1';
 * ```
 *
 * @module @latchkey/core/sdk-v1
 */
import type { Client, ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import type { Implementation } from '@modelcontextprotocol/sdk/types.js';
import type { Credentials } from './credentials.js';
import { type LaunchHandle, type LaunchOptions, launchWith } from './launch/launch-server.js';
import { sdkV1 } from './launch/mcp-sdk-v1.js';
import type { McpServerSpec } from './launch/types.js';
import type { Session } from './session.js';

/** Options of {@link launchServer}. */
export interface LaunchServerOptions extends LaunchOptions {
  /** How the client introduces itself in `initialize` (default `latchkey`). */
  clientInfo?: Implementation;
  /** The SDK `Client`'s options (capabilities such as sampling or roots). */
  clientOptions?: ClientOptions;
}

/** A running MCP server, as {@link launchServer} returns it. */
export interface LaunchedServer extends LaunchHandle {
  /**
   * The SDK's `Client`, connected. It stays valid across restarts: calls made during a
   * restart wait for it, calls in flight reject with `SERVER_RESTARTED` (send them
   * again). Its `close()` is the handle's.
   */
  readonly client: Client;
}

/**
 * Starts an MCP server with credentials injected the way its recipe says, connects a
 * `Client` of `@modelcontextprotocol/sdk` to it (stdio, or Streamable HTTP with a
 * fallback to HTTP+SSE), and keeps the credentials fresh under the recipe's refresh
 * policy until `close()`. A recipe that declares no credentials (and no provider) can be
 * launched without any. Checks the recipe's needs before spawning anything
 * (`MISSING_CREDENTIAL`, `INSUFFICIENT_SCOPE`); fails with `SERVER_SPAWN_FAILED` or
 * `SERVER_EXITED` when the server cannot start, and with `SDK_NOT_INSTALLED` when the
 * app has no `@modelcontextprotocol/sdk`.
 *
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/lifecycle MCP lifecycle
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/transports MCP transports
 */
export function launchServer(
  spec: McpServerSpec,
  sessionOrCredentials?: Session | Credentials,
  options: LaunchServerOptions = {},
): Promise<LaunchedServer> {
  return launchWith<Client>(sdkV1, spec, sessionOrCredentials, options);
}
