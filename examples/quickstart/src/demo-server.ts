// A tiny MCP server for the quickstart. Like many real servers, it reads its token once,
// at start, from the file named by DEMO_TOKEN_FILE. Its `whoami` tool answers with the
// token's fingerprint (a sha256 prefix), never the token itself.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const path = process.env.DEMO_TOKEN_FILE;
if (!path) {
  console.error('DEMO_TOKEN_FILE is not set: start this server with launchServer().');
  process.exit(1);
}
const token = readFileSync(path, 'utf8');
const fingerprint = createHash('sha256').update(token).digest('hex').slice(0, 12);

const server = new McpServer({ name: 'latchkey-demo-whoami', version: '1.0.0' });
server.registerTool(
  'whoami',
  { description: 'The fingerprint of the token this server was started with.' },
  async () => ({ content: [{ type: 'text', text: fingerprint }] }),
);
await server.connect(new StdioServerTransport());
console.error(`whoami server ready (token ${fingerprint})`);
process.stdin.on('end', () => process.exit(0));
