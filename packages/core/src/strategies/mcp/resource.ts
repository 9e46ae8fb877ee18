import { parseUrl } from '../../util/url.js';

/**
 * The canonical URI of an MCP server, used as the RFC 8707 `resource`: the URL without
 * its fragment, and without a trailing slash when the path is only `/`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2 Resource Indicators
 */
export function canonicalResource(serverUrl: string | URL): string {
  const url = new URL(serverUrl);
  url.hash = '';
  if (url.pathname === '/' && url.search === '') return url.origin;
  return url.href;
}

/**
 * Whether protected resource metadata naming `resource` may describe the MCP server
 * at `canonical`: the same URI, or an origin or path prefix that the server lies under.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-3.3 Protected Resource Metadata Validation
 */
export function resourceCovers(resource: string, canonical: string): boolean {
  const claimed = parseUrl(resource);
  const server = parseUrl(canonical);
  if (!claimed || !server || claimed.origin !== server.origin) return false;
  const a = canonicalResource(claimed);
  const trimmed = (u: string) => u.replace(/\/$/, '');
  if (trimmed(a) === trimmed(canonical)) return true;
  if (a === claimed.origin) return true;
  const prefix = a.endsWith('/') ? a : `${a}/`;
  return server.href.startsWith(prefix);
}
