import { importSdk, type McpSdk, once } from './mcp-sdk.js';

type ClientModule = typeof import('@modelcontextprotocol/sdk/client/index.js');
type TypesModule = typeof import('@modelcontextprotocol/sdk/types.js');
type StdioModule = typeof import('@modelcontextprotocol/sdk/client/stdio.js');
type HttpModule = typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js');
type SseModule = typeof import('@modelcontextprotocol/sdk/client/sse.js');

const PACKAGE = '@modelcontextprotocol/sdk';
const ENTRY = '@latchkey/core/sdk-v1';

const loadClient = once(() =>
  importSdk(PACKAGE, ENTRY, async () => {
    const [client, types]: [ClientModule, TypesModule] = await Promise.all([
      import('@modelcontextprotocol/sdk/client/index.js'),
      import('@modelcontextprotocol/sdk/types.js'),
    ]);
    return { Client: client.Client, McpError: types.McpError, ErrorCode: types.ErrorCode };
  }),
);
const loadStdio = once(
  (): Promise<StdioModule> =>
    importSdk(PACKAGE, ENTRY, () => import('@modelcontextprotocol/sdk/client/stdio.js')),
);
const loadHttp = once(
  (): Promise<HttpModule> =>
    importSdk(PACKAGE, ENTRY, () => import('@modelcontextprotocol/sdk/client/streamableHttp.js')),
);
const loadSse = once(
  (): Promise<SseModule> =>
    importSdk(PACKAGE, ENTRY, () => import('@modelcontextprotocol/sdk/client/sse.js')),
);

// Loaded by the first launch; errors can only come from an SDK that was loaded.
let errors: Awaited<ReturnType<typeof loadClient>> | undefined;
let httpErrors: HttpModule['StreamableHTTPError'] | undefined;

/** `@modelcontextprotocol/sdk` (1.x): protocol 2025-11-25 and older, `initialize` only. Internal. */
export const sdkV1: McpSdk = {
  packageName: PACKAGE,
  handshake: 'initialize',
  async client(info, options, startTimeoutMs) {
    errors = await loadClient();
    const client = new errors.Client(
      info as ConstructorParameters<ClientModule['Client']>[0],
      options as ConstructorParameters<ClientModule['Client']>[1],
    );
    return { client, handshakeTimeoutMs: startTimeoutMs };
  },
  async stdio() {
    return (await loadStdio()).StdioClientTransport;
  },
  async http() {
    const module = await loadHttp();
    httpErrors = module.StreamableHTTPError;
    return module.StreamableHTTPClientTransport;
  },
  async sse() {
    return (await loadSse()).SSEClientTransport;
  },
  isOlderTransportAnswer(error) {
    const code = (error as { code?: unknown } | null)?.code;
    return (
      httpErrors !== undefined &&
      error instanceof httpErrors &&
      (code === 400 || code === 404 || code === 405)
    );
  },
  isTimeout(error) {
    return (
      errors !== undefined &&
      error instanceof errors.McpError &&
      error.code === errors.ErrorCode.RequestTimeout
    );
  },
};
