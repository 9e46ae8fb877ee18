/**
 * The MCP SDK's client modules, each loaded on first use rather than when the package
 * is imported: hosts that only sign in never pay for them, and a launch loads only the
 * transport it uses (no stdio modules for a remote server, no SSE ones unless a server
 * answers with the older transport). Internal.
 */
type ClientModule = typeof import('@modelcontextprotocol/sdk/client/index.js');
type TypesModule = typeof import('@modelcontextprotocol/sdk/types.js');
type StdioModule = typeof import('@modelcontextprotocol/sdk/client/stdio.js');
type HttpModule = typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js');
type SseModule = typeof import('@modelcontextprotocol/sdk/client/sse.js');

/** Loads a module once; a failed load is tried again next time. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load();
    loading.catch(() => {
      loading = undefined;
    });
    return loading;
  };
}

/** The `Client` class and the SDK's error types. */
export const loadClient = once(async () => {
  const [client, types]: [ClientModule, TypesModule] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]);
  return { Client: client.Client, McpError: types.McpError, ErrorCode: types.ErrorCode };
});

/** The stdio transport and the SDK's safe default environment. */
export const loadStdio = once(
  (): Promise<StdioModule> => import('@modelcontextprotocol/sdk/client/stdio.js'),
);

/** The Streamable HTTP transport. */
export const loadHttp = once(
  (): Promise<HttpModule> => import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
);

/** The older HTTP+SSE transport. */
export const loadSse = once(
  (): Promise<SseModule> => import('@modelcontextprotocol/sdk/client/sse.js'),
);
