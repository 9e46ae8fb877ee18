// A tiny MCP server run for one user of the platform. It gets that user's access token in
// WHOAMI_TOKEN and the authorization server's userinfo endpoint in WHOAMI_USERINFO, and
// its `whoami` tool asks the endpoint whom the token belongs to.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const token = process.env.WHOAMI_TOKEN;
const userinfo = process.env.WHOAMI_USERINFO;
if (!token || !userinfo) {
  console.error(
    'WHOAMI_TOKEN and WHOAMI_USERINFO must be set: start this server with launchServer().',
  );
  process.exit(1);
}

const server = new McpServer({ name: 'web-platform-whoami', version: '1.0.0' });
server.registerTool(
  'whoami',
  { description: 'Who the token this server was started with belongs to.' },
  async () => {
    const response = await fetch(userinfo, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) {
      return {
        isError: true,
        content: [{ type: 'text', text: `userinfo answered ${response.status}` }],
      };
    }
    const claims = (await response.json()) as { sub?: string; email?: string };
    return { content: [{ type: 'text', text: claims.email ?? claims.sub ?? 'unknown' }] };
  },
);
await server.connect(new StdioServerTransport());
process.stdin.on('end', () => process.exit(0));
