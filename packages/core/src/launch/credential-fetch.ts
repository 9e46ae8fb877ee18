/** Options of {@link credentialFetch}. */
export interface CredentialFetchOptions {
  /**
   * The headers to add, asked for on every request (so they can come from fresh
   * credentials). They replace headers of the same name set by the caller.
   */
  headers: () => Promise<Readonly<Record<string, string>>> | Readonly<Record<string, string>>;
  /** The `fetch` that sends the request (default: the global `fetch`). */
  fetch?: typeof fetch;
}

/** The headers a `fetch` call sends: the `Request`'s, then `init`'s over them. Internal. */
export function requestHeaders(
  input: Parameters<typeof fetch>[0],
  init: RequestInit | undefined,
): Headers {
  const headers = new Headers(input instanceof Request ? input.headers : undefined);
  new Headers(init?.headers).forEach((value, name) => {
    headers.set(name, value);
  });
  return headers;
}

/**
 * A `fetch` that adds credential headers (for example `Authorization: Bearer ...`) to
 * every request, for the MCP SDK's Streamable HTTP transport or any other client.
 *
 * @see https://modelcontextprotocol.io/specification/2025-06-18/basic/authorization#token-requirements
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1 Bearer tokens in the Authorization header
 */
export function credentialFetch(options: CredentialFetchOptions): typeof fetch {
  const base = options.fetch ?? globalThis.fetch;
  return async (input, init) => {
    const extra = await options.headers();
    const headers = requestHeaders(input, init);
    for (const [name, value] of Object.entries(extra)) headers.set(name, value);
    return base(input, { ...init, headers });
  };
}
