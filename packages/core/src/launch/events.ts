import type { LatchkeyErrorCode } from '../errors.js';

/**
 * Progress of a launched MCP server, reported through `launchServer`'s `onEvent` option
 * and the handle's `onEvent()`. Server events name the server by its recipe id; they
 * never carry a credential value, and stderr lines are masked.
 */
export type ServerEvent =
  | {
      type: 'server_starting';
      serverId: string;
      transport: 'stdio' | 'http';
      /** 1 for the first start, then one more for each restart. */
      generation: number;
    }
  | { type: 'server_started'; serverId: string; pid?: number; generation: number }
  | {
      type: 'server_stderr';
      serverId: string;
      /** One line of the server's stderr, with every credential value masked. */
      line: string;
    }
  | {
      type: 'server_credentials_updated';
      serverId: string;
      /** When the credentials the server now has expire (epoch ms), if known. */
      expiresAt?: number;
    }
  | {
      type: 'server_restarting';
      serverId: string;
      reason: 'credentials' | 'crash' | 'requested';
      /** The backoff waited before starting again, after a crash. */
      delayMs?: number;
    }
  | {
      type: 'server_exited';
      serverId: string;
      pid?: number;
      /** Whether Latchkey asked it to stop (close or restart). */
      expected: boolean;
    }
  | {
      type: 'server_refresh_failed';
      serverId: string;
      /** Why refreshing ahead of expiry failed; the server keeps its current credentials. */
      code: LatchkeyErrorCode;
      /** When Latchkey tries again, if it does. */
      retryInMs?: number;
    }
  | {
      type: 'server_closed';
      serverId: string;
      /** Set when the handle closed because the server failed (`SERVER_EXITED`...). */
      error?: LatchkeyErrorCode;
    };
