// A workload (a CI job, a backend service) that signs in to a remote MCP server as
// itself, with no user: its platform writes a signed identity token (a JWT) to a file,
// and Latchkey redeems it with the JWT bearer grant (RFC 7523) for a session.
//
//   WORKLOAD_TOKEN_FILE=/var/run/secrets/tokens/mcp \
//     npx tsx examples/remote-server/src/workload.ts https://mcp.example.com/mcp
import { readFile } from 'node:fs/promises';
import { authenticate, mcpAuthProvider, remoteServer } from '@latchkey/core';
import { launchServer } from '@latchkey/core/sdk-v1';

const serverUrl = process.argv[2] ?? 'https://mcp.example.com/mcp';
const tokenFile = process.env.WORKLOAD_TOKEN_FILE ?? '/var/run/secrets/tokens/mcp';

const session = await authenticate(
  mcpAuthProvider(serverUrl, {
    jwtBearer: {
      clientId: process.env.MCP_CLIENT_ID ?? 'build-agent',
      // The platform rotates the file: it is read again for every token request.
      assertion: () => readFile(tokenFile, 'utf8'),
    },
  }),
);
const server = await launchServer(remoteServer(serverUrl), session);
const { tools } = await server.client.listTools();
console.log(`${tools.length} tools: ${tools.map((tool) => tool.name).join(', ')}`);
await server.close();
