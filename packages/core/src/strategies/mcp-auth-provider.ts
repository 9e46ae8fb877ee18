import { createHash } from 'node:crypto';
import { parseUrl } from '../util/url.js';
import { defineProvider } from './define-provider.js';
import type { McpStrategyDefinition } from './mcp/definition.js';
import { canonicalResource } from './mcp/resource.js';
import type { AuthProvider } from './provider.js';

/** Options of {@link mcpAuthProvider}: the `mcp` strategy's fields, plus the provider's id and name. */
export interface McpAuthProviderOptions extends Omit<McpStrategyDefinition, 'kind' | 'serverUrl'> {
  /** Provider id; default: derived from the server URL, stable across runs. */
  id?: string;
  /** Display name; default: the server's host. */
  name?: string;
}

/** A stable id for a server URL: its host and a short hash of the canonical URL. */
function defaultId(serverUrl: string, url: URL): string {
  const canonical = canonicalResource(serverUrl);
  const host = url.host.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 40);
  const hash = createHash('sha256').update(canonical).digest('hex').slice(0, 10);
  return `mcp-${host}-${hash}`;
}

/**
 * A provider for a remote MCP server, authorized the way the MCP specification
 * describes: on the first `401` Latchkey discovers the protected resource metadata and
 * the authorization server, identifies the client (pre-registered, client ID metadata
 * document, or dynamic registration), and signs the user in with PKCE and the server
 * as the RFC 8707 `resource`. Tokens are kept per authorization server. The same as
 * `defineProvider({ id, name, strategy: { kind: 'mcp', serverUrl, ...options } })`,
 * with the id and name derived from the URL.
 *
 * @see https://modelcontextprotocol.io/specification/draft/basic/authorization
 * @see https://www.rfc-editor.org/rfc/rfc9728 OAuth 2.0 Protected Resource Metadata
 */
export function mcpAuthProvider(
  serverUrl: string,
  options: McpAuthProviderOptions = {},
): AuthProvider {
  if (typeof serverUrl !== 'string')
    throw new TypeError('mcpAuthProvider() takes the MCP server URL');
  if (typeof options !== 'object' || options === null)
    throw new TypeError('options must be an object');
  const { id, name, ...strategy } = options;
  // An unparsable URL gets a placeholder id here; the strategy check reports the URL.
  const url = parseUrl(serverUrl);
  return defineProvider({
    id: id ?? (url ? defaultId(serverUrl, url) : 'mcp'),
    ...(name !== undefined || url ? { name: name ?? (url as URL).host } : {}),
    strategy: { kind: 'mcp', serverUrl, ...strategy },
  });
}
