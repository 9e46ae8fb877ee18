// The Google MCP servers this example can run, by name, as recipes from
// @latchkey/provider-google.
import { fileURLToPath } from 'node:url';
import type { McpServerSpec } from '@latchkey/core';
import { gdriveServer, gmailServer, workspaceServer } from '@latchkey/provider-google';

export const SERVERS = {
  // server-gdrive as installed with this example: node runs its entry file, nothing is
  // downloaded. (Without options, the recipe runs `npx -y @modelcontextprotocol/server-gdrive@…`.)
  gdrive: () =>
    gdriveServer({
      command: process.execPath,
      args: [
        fileURLToPath(import.meta.resolve('@modelcontextprotocol/server-gdrive/dist/index.js')),
      ],
    }),
  // Downloaded by npx on first use.
  gmail: () => gmailServer(),
  // Python: needs uv (https://docs.astral.sh/uv/) for `uvx workspace-mcp`.
  workspace: () => workspaceServer({ tools: ['gmail', 'drive', 'calendar'] }),
} satisfies Record<string, () => McpServerSpec>;

export type ServerName = keyof typeof SERVERS;

/** Whether `name` is one of {@link SERVERS}. */
export function isServerName(name: string): name is ServerName {
  return Object.hasOwn(SERVERS, name);
}
