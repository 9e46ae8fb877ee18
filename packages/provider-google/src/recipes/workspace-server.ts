import {
  defineServer,
  LatchkeyError,
  type McpServerSpec,
  type ProviderClient,
  Secret,
  type ServerCommandOptions,
  serverCommand,
} from '@latchkey/core';
import { GOOGLE_ENDPOINTS } from '../endpoints.js';
import { type GoogleScope, googleScope } from '../scopes.js';

/** The services `workspace-mcp` can load with `--tools`, as far as this recipe knows their scopes. */
export type WorkspaceTool =
  | 'gmail'
  | 'drive'
  | 'calendar'
  | 'docs'
  | 'sheets'
  | 'chat'
  | 'forms'
  | 'slides'
  | 'tasks';

/**
 * The scopes `workspace-mcp` asks for per service: full access, and with `--read-only`.
 *
 * @see https://github.com/taylorwilsdon/google_workspace_mcp/blob/main/auth/scopes.py
 */
export const WORKSPACE_TOOL_SCOPES: Readonly<
  Record<WorkspaceTool, { full: readonly GoogleScope[]; readOnly: readonly GoogleScope[] }>
> = Object.freeze({
  gmail: {
    full: [
      'gmail.readonly',
      'gmail.send',
      'gmail.compose',
      'gmail.modify',
      'gmail.labels',
      'gmail.settings.basic',
    ],
    readOnly: ['gmail.readonly'],
  },
  drive: { full: ['drive', 'drive.readonly', 'drive.file'], readOnly: ['drive.readonly'] },
  calendar: {
    full: ['calendar', 'calendar.readonly', 'calendar.events'],
    readOnly: ['calendar.readonly'],
  },
  docs: {
    full: ['documents.readonly', 'documents', 'drive.readonly', 'drive.file'],
    readOnly: ['documents.readonly', 'drive.readonly'],
  },
  sheets: {
    full: ['spreadsheets.readonly', 'spreadsheets', 'drive.readonly'],
    readOnly: ['spreadsheets.readonly', 'drive.readonly'],
  },
  chat: {
    full: ['chat.messages.readonly', 'chat.messages', 'chat.spaces', 'chat.spaces.readonly'],
    readOnly: ['chat.messages.readonly', 'chat.spaces.readonly'],
  },
  forms: {
    full: ['forms.body', 'forms.body.readonly', 'forms.responses.readonly'],
    readOnly: ['forms.body.readonly', 'forms.responses.readonly'],
  },
  slides: {
    full: ['presentations', 'presentations.readonly'],
    readOnly: ['presentations.readonly'],
  },
  tasks: { full: ['tasks', 'tasks.readonly'], readOnly: ['tasks.readonly'] },
});

/** Options of {@link workspaceServer}. */
export interface WorkspaceServerOptions extends ServerCommandOptions {
  /** The services to load (`--tools`); the recipe needs their scopes. */
  tools: readonly WorkspaceTool[];
  /** Run with `--read-only`: read-only tools, and only read-only scopes needed. */
  readOnly?: boolean;
}

/** `2025-01-31T12:00:00`: the naive UTC `datetime.isoformat()` google-auth reads. */
function pythonExpiry(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19);
}

/**
 * `workspace-mcp` (Python, `uvx workspace-mcp --single-user --tools …`): reads
 * `<email>.json` from `WORKSPACE_MCP_CREDENTIALS_DIR`, with the provider's client id and
 * secret, and refreshes by itself (`self`), so it needs the refresh token and the client
 * secret: a login through a token-exchange proxy fails with `MISSING_CREDENTIAL`
 * (`client.clientSecret`). Needs `openid`, `userinfo.email`, `userinfo.profile` and the
 * scopes of its tools ({@link WORKSPACE_TOOL_SCOPES}).
 *
 * @see https://github.com/taylorwilsdon/google_workspace_mcp
 */
export function workspaceServer(options: WorkspaceServerOptions): McpServerSpec {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('workspaceServer() takes an options object with tools');
  }
  if (!Array.isArray(options.tools)) {
    throw new TypeError('workspaceServer() takes tools: an array of workspace-mcp service names');
  }
  const tools: WorkspaceTool[] = [...new Set<WorkspaceTool>(options.tools)];
  if (tools.length === 0) {
    throw new LatchkeyError(
      'SERVER_CONFIG',
      'Server recipe option "tools" must name at least one workspace-mcp service.',
    );
  }
  for (const tool of tools) {
    if (!Object.hasOwn(WORKSPACE_TOOL_SCOPES, tool)) {
      throw new LatchkeyError(
        'SERVER_CONFIG',
        `Server recipe option "tools" names "${String(tool)}"; use ${Object.keys(WORKSPACE_TOOL_SCOPES).join(', ')}.`,
      );
    }
  }
  const mode = options.readOnly ? 'readOnly' : 'full';
  const scopes = tools.flatMap((tool) => WORKSPACE_TOOL_SCOPES[tool][mode].map(googleScope));
  const launcher = serverCommand(options, { command: 'uvx', args: ['workspace-mcp'] });
  return defineServer({
    id: 'google-workspace',
    name: 'Google Workspace',
    transport: {
      kind: 'stdio',
      command: launcher.command,
      args: [
        ...launcher.args,
        '--single-user',
        ...(options.readOnly ? ['--read-only'] : []),
        '--tools',
        ...tools,
      ],
    },
    provider: 'google',
    credentials: [
      'accessToken',
      'refreshToken',
      'expiresAt',
      'metadata.email',
      'client.clientId',
      'client.clientSecret',
    ],
    scopes: [...new Set(['openid', googleScope('email'), googleScope('profile'), ...scopes])],
    refresh: 'self',
    inject: (credentials, context) => {
      const email = String(credentials.metadata.email);
      // Declared in `credentials`, so launching checked that the client and its secret are there.
      const { clientId, clientSecret } = context.client as ProviderClient;
      const secret = clientSecret as Secret;
      const file = {
        token: credentials.accessToken.reveal(),
        refresh_token: credentials.refreshToken?.reveal(),
        token_uri: GOOGLE_ENDPOINTS.token,
        client_id: clientId,
        client_secret: secret.reveal(),
        scopes: [...credentials.scopes],
        expiry: pythonExpiry(credentials.expiresAt as number),
      };
      return {
        files: { [`${email}.json`]: new Secret(JSON.stringify(file, null, 2)) },
        env: {
          GOOGLE_OAUTH_CLIENT_ID: clientId,
          GOOGLE_OAUTH_CLIENT_SECRET: secret,
          USER_GOOGLE_EMAIL: email,
          WORKSPACE_MCP_CREDENTIALS_DIR: context.dir,
        },
      };
    },
  });
}
