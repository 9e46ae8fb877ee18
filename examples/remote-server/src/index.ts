// Connects to a remote MCP server that uses the MCP specification's authorization, and
// lists its tools. The first run opens the browser once; later runs reuse the stored
// login, refreshed as needed.
//
//   npm start -w @latchkey/example-remote-server -- https://mcp.example.com/mcp
//
// Optional: MCP_CLIENT_ID (and MCP_CLIENT_SECRET) for a client registered with the
// server's authorization server beforehand; CLIENT_METADATA_URL for a client ID
// metadata document. Without them, Latchkey registers dynamically when it can.
import {
  authenticate,
  fileStore,
  isLatchkeyError,
  mcpAuthProvider,
  remoteServer,
} from '@latchkey/core';
import { launchServer } from '@latchkey/core/sdk-v1';

const serverUrl = process.argv[2];
if (!serverUrl) {
  console.error('Pass the MCP server URL, for example: npm start -- https://mcp.example.com/mcp');
  process.exit(2);
}

const provider = mcpAuthProvider(serverUrl, {
  clientName: 'Latchkey remote server example',
  client: process.env.MCP_CLIENT_ID
    ? {
        clientId: process.env.MCP_CLIENT_ID,
        ...(process.env.MCP_CLIENT_SECRET ? { clientSecret: process.env.MCP_CLIENT_SECRET } : {}),
      }
    : undefined,
  ...(process.env.CLIENT_METADATA_URL
    ? { clientMetadataUrl: process.env.CLIENT_METADATA_URL }
    : {}),
});

try {
  const session = await authenticate(provider, {
    store: fileStore(),
    onEvent: (event) => console.log(`· ${event.type}`),
  });
  console.log(`Authorized by ${session.account}.`);
  const server = await launchServer(remoteServer(serverUrl), session);
  const { tools } = await server.client.listTools();
  console.log(`${tools.length} tools: ${tools.map((tool) => tool.name).join(', ')}`);
  await server.close();
} catch (error) {
  if (isLatchkeyError(error)) {
    console.error(`${error.code}: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
