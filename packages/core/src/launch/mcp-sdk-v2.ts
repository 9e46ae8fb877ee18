import { importSdk, type McpSdk, once } from './mcp-sdk.js';

type ClientModule = typeof import('@modelcontextprotocol/client');
type StdioModule = typeof import('@modelcontextprotocol/client/stdio');

const PACKAGE = '@modelcontextprotocol/client';
const ENTRY = '@latchkey/core/sdk-v2';

// The package has one main module (client, transports, errors) and one for stdio.
const loadClient = once(
  (): Promise<ClientModule> =>
    importSdk(PACKAGE, ENTRY, () => import('@modelcontextprotocol/client')),
);
const loadStdio = once(
  (): Promise<StdioModule> =>
    importSdk(PACKAGE, ENTRY, () => import('@modelcontextprotocol/client/stdio')),
);

let module: ClientModule | undefined;

type Options = NonNullable<ConstructorParameters<ClientModule['Client']>[1]>;

/**
 * `@modelcontextprotocol/client` (2.x). Unless the host chose otherwise, the client
 * negotiates the protocol era: `server/discover` first (2026-07-28), `initialize` for a
 * server of the 2025 era. Internal.
 */
export const sdkV2: McpSdk = {
  packageName: PACKAGE,
  handshake: 'server/discover or initialize',
  async client(info, options, startTimeoutMs) {
    module = await loadClient();
    const given = (options ?? {}) as Options;
    // One budget for the start: half for the era probe, the rest for the handshake after
    // it, so a server that never answers is stopped after startTimeoutMs, not twice that.
    const probeMs = Math.ceil(startTimeoutMs / 2);
    const client = new module.Client(info as ConstructorParameters<ClientModule['Client']>[0], {
      ...given,
      versionNegotiation: given.versionNegotiation ?? {
        mode: 'auto',
        probe: { timeoutMs: probeMs },
      },
    });
    return {
      client,
      handshakeTimeoutMs:
        given.versionNegotiation === undefined ? startTimeoutMs - probeMs : startTimeoutMs,
    };
  },
  async stdio() {
    return (await loadStdio()).StdioClientTransport;
  },
  async http() {
    module = await loadClient();
    return module.StreamableHTTPClientTransport;
  },
  async sse() {
    module = await loadClient();
    return module.SSEClientTransport;
  },
  isOlderTransportAnswer(error) {
    if (module === undefined || !(error instanceof module.SdkHttpError)) return false;
    const status = error.status;
    return status === 400 || status === 404 || status === 405;
  },
  isTimeout(error) {
    return (
      module !== undefined &&
      error instanceof module.SdkError &&
      error.code === module.SdkErrorCode.RequestTimeout
    );
  },
};
