import {
  type Credentials,
  defineServer,
  isLatchkeyError,
  LatchkeyError,
  type McpServerSpec,
  type Session,
  spawnDescription,
} from '@latchkey/core';
import type { CommandContext } from './commands.js';
import type { Message } from './json-rpc.js';
import { createMasker, credentialSecrets } from './mask.js';
import { type ServerProcess, startServerProcess } from './server-process.js';
import { signIn } from './sign-in.js';
import { type RelayEnd, startRelay } from './stdio-relay.js';

/** Variables of the host's environment that reach the server too: proxies and trusted CAs. */
const PASSED_THROUGH = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

/** How long before expiry a server is restarted with new credentials; at most half the token's life. */
const LEAD_MS = 60_000;

export interface RunOptions {
  account?: string | undefined;
  extraArgs: readonly string[];
  signal: AbortSignal;
}

/** What `latchkey run` ended with. */
export type RunEnd = RelayEnd;

function withExtraArgs(spec: McpServerSpec, extra: readonly string[]): McpServerSpec {
  if (extra.length === 0 || spec.transport.kind !== 'stdio') return spec;
  const transport = spec.transport;
  return defineServer({
    ...spec,
    transport: { ...transport, args: [...(transport.args ?? []), ...extra] },
  });
}

function leadFor(c: Credentials): number {
  if (c.expiresAt === undefined) return LEAD_MS;
  return Math.min(LEAD_MS, Math.max(0, (c.expiresAt - c.obtainedAt) / 2));
}

/**
 * `latchkey run <recipe>`: signs in when needed, starts the recipe's server with the
 * login injected, relays the host's MCP messages to it, and restarts it with new
 * credentials ahead of their expiry, the host's connection staying up.
 */
export async function run(
  ctx: CommandContext,
  recipeId: string,
  options: RunOptions,
): Promise<RunEnd> {
  const entry = ctx.registry.recipe(recipeId);
  const spec = withExtraArgs(entry.make(), options.extraArgs);
  if (spec.transport.kind !== 'stdio') {
    throw new LatchkeyError(
      'CLI_USAGE',
      `The recipe "${spec.id}" is a remote server at ${spec.transport.url}: run \`latchkey connect ${spec.transport.url}\` for it.`,
    );
  }
  const providerId = spec.provider ?? entry.provider;
  if (providerId === undefined && spec.credentials.length > 0) {
    throw new LatchkeyError(
      'CONFIG_INVALID',
      `The recipe "${spec.id}" needs credentials but names no provider: give it one with defineServer({ provider }).`,
    );
  }
  const session: Session | undefined =
    providerId === undefined
      ? undefined
      : await signIn(ctx.registry.provider(providerId), [...spec.scopes, ...(entry.scopes ?? [])], {
          ...ctx,
          account: options.account,
          signal: options.signal,
        });
  ctx.reporter.stop();
  const masker = createMasker();
  if (session) {
    masker.add(credentialSecrets(session.current()));
    session.onChange((c) => masker.add(credentialSecrets(c)));
  }
  const env = Object.fromEntries(
    PASSED_THROUGH.flatMap((name) =>
      ctx.env[name] !== undefined ? [[name, ctx.env[name] as string]] : [],
    ),
  );
  let timer: NodeJS.Timeout | undefined;
  let restart: () => Promise<boolean> = async () => false;
  /** When each generation's credentials expire. */
  const expiries = new Map<number, number | undefined>();
  const RETRY_MS = 10_000;

  const schedule = (expiresAt: number | undefined) => {
    if (timer) clearTimeout(timer);
    if (!session || spec.refresh !== 'restart' || expiresAt === undefined) return;
    const lead = leadFor(session.current());
    timer = setTimeout(() => void renew(lead), Math.max(0, expiresAt - lead - Date.now()));
    timer.unref();
  };
  const retry = (lead: number) => {
    timer = setTimeout(() => void renew(lead), RETRY_MS);
    timer.unref();
  };
  const renew = async (lead: number) => {
    if (!session) return;
    try {
      await session.fresh({ minValidityMs: lead + 1000 });
    } catch (error) {
      ctx.reporter.error(error);
      if (isLatchkeyError(error, 'REAUTH_REQUIRED') || isLatchkeyError(error, 'LOGIN_REQUIRED')) {
        ctx.reporter.line(
          `latchkey: the ${spec.id} server keeps its current credentials until they expire; sign in again with \`latchkey login ${providerId}\`, then restart the server from your MCP host.`,
        );
        return;
      }
      retry(lead);
      return;
    }
    // A restart that failed leaves the running server; try again while its token works.
    if (!(await restart())) retry(lead);
  };

  const start = async (generation: number, deliver: (message: Message) => void) => {
    const description = await spawnDescription(spec, session, { env });
    let server: ServerProcess;
    try {
      server = await startServerProcess({
        description,
        generation,
        masker,
        onMessage: deliver,
        onJunk: (line) =>
          ctx.reporter.line(
            `latchkey: ${spec.id} wrote a line to stdout that is not an MCP message (not relayed): ${line}`,
          ),
        onStderr: (line) => ctx.reporter.line(`[${spec.id}] ${line}`),
      });
    } catch (error) {
      await description.dispose();
      throw error;
    }
    expiries.set(generation, description.expiresAt);
    // What the recipe injected besides the login (a client secret, say) is hidden too.
    masker.add(
      Object.entries(description.env)
        .filter(([name, value]) => ctx.env[name] !== value && value.length >= 16)
        .map(([, value]) => value),
    );
    return { process: server, dispose: () => description.dispose() };
  };
  const relay = await startRelay({
    input: process.stdin,
    output: process.stdout,
    start,
    say: (text) => ctx.reporter.line(text),
    mask: (text) => masker.mask(text),
    onSwitched: (generation) => {
      schedule(expiries.get(generation));
      for (const n of expiries.keys()) if (n < generation) expiries.delete(n);
    },
  });
  restart = () => relay.restart();
  options.signal.addEventListener('abort', () => void relay.stop(), { once: true });
  // A signal that came while the first server started.
  if (options.signal.aborted) void relay.stop();
  const end = await relay.ended;
  if (timer) clearTimeout(timer);
  return end;
}
