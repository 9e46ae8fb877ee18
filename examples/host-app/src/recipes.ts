// Recipes: how to run an MCP server and hand it credentials, written with defineServer().
// Provider packages will ship recipes like these; a host can write its own for any server.
import { fileURLToPath } from 'node:url';
import { defineServer, type McpServerSpec, Secret } from '@latchkey/core';

export const DRIVE_READONLY = 'https://www.googleapis.com/auth/drive.readonly';

/** The path of a file inside an installed npm package. */
function installed(file: string): string {
  return fileURLToPath(import.meta.resolve(file));
}

/** `@modelcontextprotocol/server-everything`: the MCP test server; it needs no credentials. */
export function everythingServer(): McpServerSpec {
  return defineServer({
    id: 'everything',
    name: 'Everything',
    transport: {
      kind: 'stdio',
      command: process.execPath,
      args: [installed('@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
    },
  });
}

/**
 * `@modelcontextprotocol/server-gdrive` reads a google-auth-library token file, named by
 * `GDRIVE_CREDENTIALS_PATH`, once at start, and never refreshes it. So Latchkey writes
 * the file, and rewrites it and restarts the server before the token expires.
 */
export function gdriveServer(): McpServerSpec {
  return defineServer({
    id: 'gdrive',
    name: 'Google Drive',
    transport: {
      kind: 'stdio',
      command: process.execPath,
      args: [installed('@modelcontextprotocol/server-gdrive/dist/index.js')],
    },
    credentials: ['accessToken', 'expiresAt'],
    scopes: [DRIVE_READONLY],
    refresh: 'restart',
    inject: (credentials, context) => ({
      files: {
        'token.json': new Secret(
          JSON.stringify({
            access_token: credentials.accessToken.reveal(),
            refresh_token: credentials.refreshToken?.reveal(),
            scope: credentials.scopes.join(' '),
            token_type: 'Bearer',
            expiry_date: credentials.expiresAt,
          }),
        ),
      },
      env: { GDRIVE_CREDENTIALS_PATH: context.path('token.json') },
    }),
  });
}

/** `@modelcontextprotocol/server-slack`: a bot token and the team id, in its environment. */
export function slackServer(command: string): McpServerSpec {
  return defineServer({
    id: 'slack',
    name: 'Slack',
    transport: { kind: 'stdio', command },
    provider: 'slack',
    credentials: ['accessToken', 'metadata.team'],
    inject: (credentials) => ({
      env: {
        SLACK_BOT_TOKEN: credentials.accessToken,
        SLACK_TEAM_ID: String(credentials.metadata.team),
      },
    }),
  });
}

/** GitHub's remote MCP server: a bearer token on every HTTP request, fresh each time. */
export function githubRemoteServer(): McpServerSpec {
  return defineServer({
    id: 'github-remote',
    name: 'GitHub (remote)',
    transport: { kind: 'http', url: 'https://api.githubcopilot.com/mcp/' },
    provider: 'github',
    refresh: 'per-request',
    inject: (credentials) => ({
      headers: { authorization: new Secret(`Bearer ${credentials.accessToken.reveal()}`) },
    }),
  });
}
