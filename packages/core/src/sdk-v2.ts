/**
 * `launchServer()` for hosts on the MCP SDK's 2.x line, `@modelcontextprotocol/client`.
 * The `client` of a launched server is that package's own `Client`, from the copy the
 * host installed. Unless `clientOptions.versionNegotiation` says otherwise, it
 * negotiates the protocol era: protocol 2026-07-28 (`server/discover`) with servers that
 * speak it, the 2025 `initialize` handshake with older ones.
 *
 * @example
 * ```ts
 * import { authenticate } from '@latchkey/core';
 * import { launchServer } from '@latchkey/core/sdk-v2';
 * ```
 *
 * @module @latchkey/core/sdk-v2
 */
import type { Client, ClientOptions, Implementation } from '@modelcontextprotocol/client';
import type { Credentials } from './credentials.js';
import { type LaunchHandle, type LaunchOptions, launchWith } from './launch/launch-server.js';
import { sdkV2 } from './launch/mcp-sdk-v2.js';
import type { McpServerSpec } from './launch/types.js';
import type { Session } from './session.js';

/** Options of {@link launchServer}. */
export interface LaunchServerOptions extends LaunchOptions {
  /** How the client introduces itself (default `latchkey`). */
  clientInfo?: Implementation;
  /**
   * The `Client`'s options (capabilities, handlers, `versionNegotiation`). Default
   * `versionNegotiation`: `{ mode: 'auto' }`; pass `{ mode: 'legacy' }` to speak only
   * the 2025 era, or `{ mode: { pin: '2026-07-28' } }` to refuse older servers.
   */
  clientOptions?: ClientOptions;
}

/** A running MCP server, as {@link launchServer} returns it. */
export interface LaunchedServer extends LaunchHandle {
  /**
   * The `Client` of `@modelcontextprotocol/client`, connected. It stays valid across
   * restarts: calls made during a restart wait for it, calls in flight reject with
   * `SERVER_RESTARTED` (send them again). Its `close()` is the handle's.
   * `client.getProtocolEra()` says which era was negotiated.
   */
  readonly client: Client;
}

/**
 * Starts an MCP server with credentials injected the way its recipe says, connects a
 * `Client` of `@modelcontextprotocol/client` to it (stdio, or Streamable HTTP with a
 * fallback to HTTP+SSE), negotiating the protocol era, and keeps the credentials fresh
 * under the recipe's refresh policy until `close()`. A recipe that declares no
 * credentials (and no provider) can be launched without any. Checks the recipe's needs before
 * spawning anything (`MISSING_CREDENTIAL`, `INSUFFICIENT_SCOPE`); fails with
 * `SERVER_SPAWN_FAILED` or `SERVER_EXITED` when the server cannot start, and with
 * `SDK_NOT_INSTALLED` when the app has no `@modelcontextprotocol/client`.
 *
 * On stdio, the SDK probes the era on a short-lived second process started the same
 * way (same command, environment and credential files) before it starts the server the
 * client stays connected to.
 */
export function launchServer(
  spec: McpServerSpec,
  sessionOrCredentials?: Session | Credentials,
  options: LaunchServerOptions = {},
): Promise<LaunchedServer> {
  return launchWith<Client>(sdkV2, spec, sessionOrCredentials, options);
}
