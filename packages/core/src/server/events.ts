/**
 * Progress of a launched MCP server, reported through `launchServer`'s `onEvent`.
 * Server events name the server by its recipe id; stderr lines are masked.
 */
export type ServerEvent =
  | { type: 'server_starting'; serverId: string; transport: 'stdio' | 'http' }
  | { type: 'server_started'; serverId: string; pid?: number }
  | {
      type: 'server_stderr';
      serverId: string;
      /** One line of the server's stderr, with every credential value masked. */
      line: string;
    }
  | { type: 'server_credentials_updated'; serverId: string }
  | { type: 'server_restarting'; serverId: string; reason: 'credentials' | 'crash' | 'requested' }
  | {
      type: 'server_exited';
      serverId: string;
      code: number | null;
      signal: string | null;
      /** Whether Latchkey asked it to stop (close or restart). */
      expected: boolean;
    }
  | { type: 'server_closed'; serverId: string };
