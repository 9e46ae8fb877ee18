import {
  type AuthProvider,
  type BrowserDriver,
  LatchkeyError,
  type McpServerSpec,
} from '@latchkey/core';
import {
  gdriveServer,
  gmailServer,
  googleProvider,
  type WorkspaceTool,
  workspaceServer,
} from '@latchkey/provider-google';
import {
  SLACK_MCP_SERVER_USER_SCOPES,
  slackBrowserProvider,
  slackMcpServer,
  slackProvider,
  slackServer,
  USER_SCOPE_PREFIX,
  userScope,
} from '@latchkey/provider-slack';
import type { CliConfig } from './config.js';

/** A provider the CLI can sign in with, made for the scopes a recipe needs. */
export interface ProviderEntry {
  readonly id: string;
  readonly name: string;
  /** Where it comes from: built in, or the config module. */
  readonly origin: 'built-in' | 'config';
  /** The provider for these scopes (on top of the configured ones). */
  make(scopes: readonly string[]): AuthProvider;
  /** Whether signing in opens a browser window that Latchkey drives (the `browser` strategy). */
  readonly drivesBrowser: boolean;
}

/** A recipe the CLI can run. */
export interface RecipeEntry {
  readonly id: string;
  readonly origin: 'built-in' | 'config';
  make(): McpServerSpec;
  /** The provider to sign in with, for a recipe that takes logins of several (its spec names none). */
  readonly provider?: string;
  /** Scopes to ask that provider for, for such a recipe. */
  readonly scopes?: readonly string[];
}

/** The providers and recipes the CLI knows: built in, then the config module's (which win). */
export interface Registry {
  readonly providers: ReadonlyMap<string, ProviderEntry>;
  readonly recipes: ReadonlyMap<string, RecipeEntry>;
  provider(id: string): ProviderEntry;
  recipe(id: string): RecipeEntry;
  /** The browser driver for `browser` providers, loaded when first needed. */
  browser(): Promise<BrowserDriver>;
}

const unique = (values: Iterable<string>) => [...new Set(values)];

function stringList(config: CliConfig, path: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new LatchkeyError(
      'CONFIG_INVALID',
      `The config file ${config.file ?? ''} has "${path}" that is not an array of strings.`,
    );
  }
  return value as string[];
}

function needs(config: CliConfig, provider: string, example: string): never {
  const where = config.file
    ? `the config file ${config.file}`
    : `a config file, ${config.defaultFile} (or the file LATCHKEY_CONFIG names)`;
  throw new LatchkeyError(
    'CONFIG_INVALID',
    `The ${provider} provider needs the OAuth client of your app: add ${example} to ${where}. Latchkey ships no client of its own for ${provider}.`,
  );
}

function builtInProviders(config: CliConfig): ProviderEntry[] {
  const options = (id: string) => config.providers[id] ?? {};
  return [
    {
      id: 'google',
      name: 'Google',
      origin: 'built-in',
      drivesBrowser: false,
      make(scopes) {
        const { scopes: configured, ...rest } = options('google');
        if (typeof rest.clientId !== 'string' || rest.clientId === '') {
          needs(
            config,
            'Google',
            '"providers": { "google": { "clientId": "….apps.googleusercontent.com", "clientSecret": "…" } }',
          );
        }
        return googleProvider({
          ...(rest as { clientId: string }),
          scopes: unique([
            ...stringList(config, 'providers.google.scopes', configured),
            ...scopes,
          ]) as never,
        });
      },
    },
    {
      id: 'slack',
      name: 'Slack',
      origin: 'built-in',
      drivesBrowser: false,
      make(scopes) {
        const { botScopes, userScopes, ...rest } = options('slack');
        if (typeof rest.clientId !== 'string' || rest.clientId === '') {
          needs(
            config,
            'Slack',
            '"providers": { "slack": { "clientId": "…", "clientSecret": "…" } }',
          );
        }
        const user = scopes
          .filter((s) => s.startsWith(USER_SCOPE_PREFIX))
          .map((s) => s.slice(USER_SCOPE_PREFIX.length));
        const bot = scopes.filter((s) => !s.startsWith(USER_SCOPE_PREFIX));
        return slackProvider({
          ...(rest as { clientId: string }),
          botScopes: unique([
            ...stringList(config, 'providers.slack.botScopes', botScopes),
            ...bot,
          ]),
          userScopes: unique([
            ...stringList(config, 'providers.slack.userScopes', userScopes),
            ...user,
          ]),
        });
      },
    },
    {
      id: 'slack-browser',
      name: 'Slack (browser session)',
      origin: 'built-in',
      drivesBrowser: true,
      make: () => slackBrowserProvider(options('slack-browser')),
    },
  ];
}

const WORKSPACE_TOOLS: WorkspaceTool[] = ['gmail', 'drive', 'calendar'];

function builtInRecipes(config: CliConfig): RecipeEntry[] {
  const options = (id: string) => config.recipes[id] ?? {};
  return [
    { id: 'gdrive', origin: 'built-in', make: () => gdriveServer(options('gdrive')) },
    { id: 'gmail', origin: 'built-in', make: () => gmailServer(options('gmail')) },
    {
      id: 'google-workspace',
      origin: 'built-in',
      make: () =>
        workspaceServer({ tools: WORKSPACE_TOOLS, ...options('google-workspace') } as Parameters<
          typeof workspaceServer
        >[0]),
    },
    { id: 'slack', origin: 'built-in', make: () => slackServer(options('slack')) },
    slackMcpEntry(config),
  ];
}

/** slack-mcp-server takes a browser session by default (no Slack app needed); `"provider": "slack"` uses the app. */
function slackMcpEntry(config: CliConfig): RecipeEntry {
  const { provider = 'slack-browser', ...rest } = config.recipes['slack-mcp-server'] ?? {};
  if (provider !== 'slack' && provider !== 'slack-browser') {
    throw new LatchkeyError(
      'CONFIG_INVALID',
      `The config file ${config.file ?? ''} has "recipes.slack-mcp-server.provider" ${JSON.stringify(provider)}: it takes "slack" (the OAuth app) or "slack-browser" (a browser session).`,
    );
  }
  const userScopes =
    (rest.userScopes as readonly string[] | undefined) ?? SLACK_MCP_SERVER_USER_SCOPES;
  return {
    id: 'slack-mcp-server',
    origin: 'built-in',
    provider,
    scopes: provider === 'slack' ? userScopes.map(userScope) : [],
    make: () => slackMcpServer({ ...rest, userScopes }),
  };
}

function unknown(kind: 'provider' | 'recipe', id: string, known: Iterable<string>): LatchkeyError {
  return new LatchkeyError(
    'CLI_USAGE',
    `There is no ${kind} "${id}". The ${kind}s latchkey knows: ${[...known].join(', ')}. Add your own in a config module (see \`latchkey --help\`).`,
  );
}

export function createRegistry(config: CliConfig): Registry {
  const providers = new Map<string, ProviderEntry>();
  for (const entry of builtInProviders(config)) providers.set(entry.id, entry);
  for (const provider of config.ownProviders) {
    providers.set(provider.id, {
      id: provider.id,
      name: provider.name,
      origin: 'config',
      drivesBrowser: provider.strategy.kind === 'browser',
      make: () => provider,
    });
  }
  const recipes = new Map<string, RecipeEntry>();
  for (const entry of builtInRecipes(config)) recipes.set(entry.id, entry);
  for (const spec of config.ownRecipes)
    recipes.set(spec.id, { id: spec.id, origin: 'config', make: () => spec });
  for (const id of Object.keys(config.providers)) {
    if (!providers.has(id))
      throw new LatchkeyError(
        'CONFIG_INVALID',
        `The config file ${config.file ?? ''} has options for "providers.${id}", but there is no such provider. The providers latchkey knows: ${[...providers.keys()].join(', ')}.`,
      );
  }
  for (const id of Object.keys(config.recipes)) {
    if (!recipes.has(id))
      throw new LatchkeyError(
        'CONFIG_INVALID',
        `The config file ${config.file ?? ''} has options for "recipes.${id}", but there is no such recipe. The recipes latchkey knows: ${[...recipes.keys()].join(', ')}.`,
      );
  }
  let driver: Promise<BrowserDriver> | undefined;
  return {
    providers,
    recipes,
    provider(id) {
      const entry = providers.get(id);
      if (!entry) throw unknown('provider', id, providers.keys());
      return entry;
    },
    recipe(id) {
      const entry = recipes.get(id);
      if (!entry) throw unknown('recipe', id, recipes.keys());
      return entry;
    },
    browser() {
      driver ??= import('@latchkey/browser-extract').then(({ puppeteerDriver }) =>
        puppeteerDriver(),
      );
      return driver;
    },
  };
}
