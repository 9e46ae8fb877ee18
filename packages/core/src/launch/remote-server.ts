import { Secret } from '../secret.js';
import { canonicalResource } from '../strategies/mcp/resource.js';
import { defineServer } from './define-server.js';
import type { McpServerSpec } from './types.js';

/** Options of {@link remoteServer}. */
export interface RemoteServerOptions {
  /** Recipe id; default: derived from the host. */
  id?: string;
  /** Display name; default: the host. */
  name?: string;
  /** Scopes the server needs before Latchkey connects (`INSUFFICIENT_SCOPE` otherwise). */
  scopes?: readonly string[];
}

/**
 * A recipe for a remote MCP server reached over Streamable HTTP (or the older HTTP+SSE
 * transport when it answers that way). Every request carries the bearer token of fresh
 * credentials; launched with a session, the server's `401` and `403 insufficient_scope`
 * are answered as the MCP specification says (see `authorizedFetch`).
 *
 * @see https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#streamable-http
 */
export function remoteServer(url: string, options: RemoteServerOptions = {}): McpServerSpec {
  if (typeof url !== 'string') throw new TypeError('remoteServer() takes the MCP server URL');
  const host = new URL(url).host;
  return defineServer({
    id: options.id ?? `remote-${host.replace(/[^A-Za-z0-9.-]/g, '-')}`.slice(0, 64),
    name: options.name ?? host,
    transport: { kind: 'http', url: canonicalResource(url) },
    credentials: ['accessToken'],
    ...(options.scopes ? { scopes: options.scopes } : {}),
    inject: (credentials) => ({
      headers: { authorization: new Secret(`Bearer ${credentials.accessToken.reveal()}`) },
    }),
    refresh: 'per-request',
  });
}
