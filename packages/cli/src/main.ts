import { parseArgs } from 'node:util';
import { type CredentialStore, fileStore, isLatchkeyError, LatchkeyError } from '@latchkey/core';
import { type CommandContext, login, logout, recipes, status } from './commands.js';
import { latchkeyHome, loadConfig } from './config.js';
import { connect } from './connect.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { createRegistry } from './registry.js';
import { createReporter, type Reporter } from './report.js';
import { run } from './run.js';

export const HELP = `latchkey: sign in once, then run MCP servers with your login, kept fresh

Usage:
  latchkey login <provider|url> [--account NAME] [--flow browser|device|paste]
  latchkey status [--json]
  latchkey logout <provider|url> [--account NAME]
  latchkey run <recipe> [--account NAME] [-- extra server arguments]
  latchkey connect <url> [--account NAME]
  latchkey recipes [--json]
  latchkey --help | --version

Commands:
  login     Sign in to a provider (google, slack, slack-browser, or one of your own),
            or to a remote MCP server by its URL, and store the login.
  status    List every stored login: provider, account, scopes, expiry, whether it
            can refresh. Never prints a secret.
  logout    Revoke the login where the provider allows it, and forget it here.
  run       Be a stdio MCP server for your MCP host: start the recipe's server with
            your login (signing in first when needed), relay every message, and
            restart it with new credentials before they expire.
  connect   Be a stdio MCP server for a remote MCP server (Streamable HTTP), signing
            in the way the MCP specification describes.
  recipes   List the recipes latchkey knows, with the provider and scopes each needs.

Examples:
  latchkey login google
  latchkey status --json
  latchkey run gdrive
  latchkey connect https://mcp.example.com/mcp
  In an MCP host's config: { "command": "npx", "args": ["-y", "@latchkey/cli", "run", "gdrive"] }

Files and environment:
  LATCHKEY_CONFIG   the config file (JSON, or an ES module exporting providers and
                    recipes); default: config.json, config.mjs or config.js in the
                    config folder (~/.config/latchkey on Linux)
  LATCHKEY_HOME     the folder for the logins and the config file, instead of the
                    platform's config folder
  BROWSER           the command that opens sign-in pages (':'-separated list)

stdout carries MCP messages only (run, connect) or the command's output; everything
for people goes to stderr. Exit codes: 0 done, 1 error, 2 wrong command line,
3 config file, 4 sign-in, 5 MCP server, 6 remote server, 130/143 interrupted.
`;

const FLOWS = ['browser', 'device', 'paste'] as const;

function usage(text: string): LatchkeyError {
  return new LatchkeyError('CLI_USAGE', `${text} Run \`latchkey --help\` for the commands.`);
}

function storeFor(env: NodeJS.ProcessEnv): CredentialStore {
  const home = latchkeyHome(env);
  return home === undefined ? fileStore() : fileStore({ directory: home });
}

interface Parsed {
  command: string;
  positionals: string[];
  account?: string;
  flow?: (typeof FLOWS)[number];
  json: boolean;
  extra: string[];
}

const ALLOWED: Record<string, { positionals: number; flags: string[] }> = {
  login: { positionals: 1, flags: ['account', 'flow'] },
  status: { positionals: 0, flags: ['json'] },
  logout: { positionals: 1, flags: ['account'] },
  run: { positionals: 1, flags: ['account'] },
  connect: { positionals: 1, flags: ['account'] },
  recipes: { positionals: 0, flags: ['json'] },
};

function parse(argv: readonly string[]): Parsed | 'help' | 'version' {
  const split = argv.indexOf('--');
  const own = split === -1 ? [...argv] : argv.slice(0, split);
  const extra = split === -1 ? [] : argv.slice(split + 1);
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: own,
      allowPositionals: true,
      strict: true,
      options: {
        account: { type: 'string' },
        flow: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw usage(`${error instanceof Error ? error.message.split('\n')[0] : String(error)}.`);
  }
  if (values.help || positionals[0] === 'help') return 'help';
  if (values.version) return 'version';
  const [command, ...rest] = positionals;
  if (command === undefined) return 'help';
  const allowed = ALLOWED[command];
  if (!allowed)
    throw usage(
      `There is no command "${command}". The commands: ${Object.keys(ALLOWED).join(', ')}.`,
    );
  for (const flag of ['account', 'flow', 'json']) {
    if (values[flag] !== undefined && !allowed.flags.includes(flag))
      throw usage(`\`latchkey ${command}\` takes no --${flag}.`);
  }
  if (rest.length !== allowed.positionals) {
    throw usage(
      allowed.positionals === 0
        ? `\`latchkey ${command}\` takes no arguments.`
        : `\`latchkey ${command}\` takes one ${command === 'run' ? 'recipe' : command === 'connect' ? 'URL' : 'provider or URL'}.`,
    );
  }
  if (extra.length > 0 && command !== 'run')
    throw usage(`Only \`latchkey run\` passes arguments after "--" on.`);
  const flow = values.flow as string | undefined;
  if (flow !== undefined && !(FLOWS as readonly string[]).includes(flow))
    throw usage(`--flow takes ${FLOWS.join(', ')}.`);
  const account = values.account as string | undefined;
  if (account !== undefined && account.trim() === '') throw usage('--account needs a name.');
  return {
    command,
    positionals: rest,
    ...(account !== undefined ? { account } : {}),
    ...(flow !== undefined ? { flow: flow as (typeof FLOWS)[number] } : {}),
    json: values.json === true,
    extra,
  };
}

export interface MainIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  version: string;
}

/** Runs one command line; resolves with the exit code. */
export async function main(argv: readonly string[], io: MainIo): Promise<number> {
  const reporter: Reporter = createReporter(io.stderr);
  const controller = new AbortController();
  let signalled: number | undefined;
  const onSignal = (code: number) => () => {
    signalled ??= code;
    controller.abort();
  };
  const onInt = onSignal(EXIT.interrupted);
  const onTerm = onSignal(EXIT.terminated);
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const parsed = parse(argv);
    if (parsed === 'help') {
      io.stdout.write(HELP);
      return EXIT.ok;
    }
    if (parsed === 'version') {
      io.stdout.write(`${io.version}\n`);
      return EXIT.ok;
    }
    const config = await loadConfig(io.env);
    const ctx: CommandContext = {
      store: storeFor(io.env),
      registry: createRegistry(config),
      reporter,
      stdout: io.stdout,
      env: io.env,
    };
    const [target] = parsed.positionals as [string];
    switch (parsed.command) {
      case 'login':
        await login(ctx, target, {
          account: parsed.account,
          flow: parsed.flow,
          signal: controller.signal,
        });
        return EXIT.ok;
      case 'status':
        await status(ctx, parsed.json);
        return EXIT.ok;
      case 'logout':
        await logout(ctx, target, parsed.account);
        return EXIT.ok;
      case 'recipes':
        recipes(ctx, parsed.json);
        return EXIT.ok;
      case 'run': {
        const end = await run(ctx, target, {
          account: parsed.account,
          extraArgs: parsed.extra,
          signal: controller.signal,
        });
        if (end.reason === 'server-failed') {
          reporter.error(end.error);
          return EXIT.server;
        }
        return signalled ?? EXIT.ok;
      }
      case 'connect': {
        const end = await connect(ctx, target, {
          account: parsed.account,
          signal: controller.signal,
        });
        if (end.reason === 'remote-failed') {
          reporter.error(end.error);
          return exitCodeFor(end.error.code);
        }
        return signalled ?? EXIT.ok;
      }
      default:
        throw usage(`There is no command "${parsed.command}".`);
    }
  } catch (error) {
    if (signalled !== undefined && isLatchkeyError(error, 'AUTH_CANCELLED')) {
      reporter.stop();
      return signalled;
    }
    reporter.error(error);
    return isLatchkeyError(error) ? exitCodeFor(error.code) : EXIT.error;
  } finally {
    reporter.stop();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
