import { authorizedFetch, isLatchkeyError, type LatchkeyError } from '@latchkey/core';
import { type CommandContext, rememberConnection, remoteEntry } from './commands.js';
import {
  errorResponse,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  isRequest,
  lineSplitter,
  type Message,
  parseLine,
  serialize,
} from './json-rpc.js';
import { signIn } from './sign-in.js';

export interface ConnectOptions {
  account?: string | undefined;
  signal: AbortSignal;
}

/** What `latchkey connect` ended with. */
export type ConnectEnd =
  | { reason: 'host-closed' }
  | { reason: 'stopped' }
  | { reason: 'remote-failed'; error: LatchkeyError };

/**
 * `latchkey connect <url>`: a remote MCP server (Streamable HTTP) as a stdio server for
 * the host. Signs in the way the MCP specification describes (discovery, registration,
 * PKCE), then relays every message; the token goes with each request, refreshed ahead
 * of expiry, and a `401` or `403 insufficient_scope` is answered by a refresh or a
 * step-up sign-in.
 */
export async function connect(
  ctx: CommandContext,
  url: string,
  options: ConnectOptions,
): Promise<ConnectEnd> {
  const session = await signIn(remoteEntry(url), [], {
    ...ctx,
    account: options.account,
    signal: options.signal,
  });
  await rememberConnection(ctx.store, session.provider, url);
  ctx.reporter.stop();
  const { StreamableHTTPClientTransport } = await import(
    '@modelcontextprotocol/sdk/client/streamableHttp.js'
  );
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: authorizedFetch(session, {
      onEvent: (event) => {
        if (event.type === 'step_up_requested')
          ctx.reporter.line(
            `The server asks for more access (${event.scopes.join(' ')}): signing in again`,
          );
      },
    }),
  });
  let endConnect: (end: ConnectEnd) => void = () => {};
  const ended = new Promise<ConnectEnd>((resolve) => {
    endConnect = resolve;
  });
  let finished = false;
  const finish = async (end: ConnectEnd) => {
    if (finished) return;
    finished = true;
    // Ending the remote session is a courtesy: never a new sign-in, never a wait of more
    // than two seconds.
    if (end.reason !== 'remote-failed') {
      await Promise.race([
        transport.terminateSession().catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 2000).unref()),
      ]);
    }
    await transport.close().catch(() => {});
    endConnect(end);
  };
  const toHost = (message: Message) => {
    if (!process.stdout.writableEnded) process.stdout.write(serialize(message));
  };
  const initializeIds = new Set<string>();
  transport.onmessage = (message) => {
    const m = message as Message;
    if (m.id !== undefined && initializeIds.delete(JSON.stringify(m.id))) {
      const version = (m.result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
      if (typeof version === 'string') transport.setProtocolVersion(version);
    }
    toHost(m);
  };
  transport.onerror = (error) => {
    ctx.reporter.line(`latchkey: ${url}: ${error.message}`);
  };
  transport.onclose = () => void finish({ reason: 'stopped' });
  await transport.start();

  const send = async (message: Message) => {
    if (isRequest(message) && message.method === 'initialize')
      initializeIds.add(JSON.stringify(message.id));
    try {
      await transport.send(message as never);
    } catch (error) {
      const latchkey = findLatchkeyError(error);
      const text = latchkey
        ? `${latchkey.code}: ${latchkey.message}`
        : error instanceof Error
          ? error.message
          : String(error);
      ctx.reporter.line(`latchkey: ${url} did not take a message: ${text}`);
      if (isRequest(message)) {
        toHost(
          errorResponse(
            message.id,
            INTERNAL_ERROR,
            `The remote MCP server could not be reached or refused the request: ${text}`,
            latchkey ? { code: latchkey.code } : undefined,
          ),
        );
      }
      if (
        latchkey &&
        ['REAUTH_REQUIRED', 'UNAUTHORIZED_LOOP', 'LOGIN_REQUIRED'].includes(latchkey.code)
      ) {
        void finish({ reason: 'remote-failed', error: latchkey });
      }
    }
  };
  // Until the session is set up (initialize answered), messages go out one after another,
  // in the host's order; after that each goes at once, so a long call holds up nothing.
  let chain = Promise.resolve();
  let initialized = false;
  process.stdin.on(
    'data',
    lineSplitter(
      (line) => {
        const parsed = parseLine(line);
        if (!parsed.ok) {
          ctx.reporter.line(
            `latchkey: the host sent a line that is not a JSON-RPC message (${parsed.reason}); answered with error ${parsed.code}`,
          );
          toHost(errorResponse(parsed.id, parsed.code, parsed.reason));
          return;
        }
        if (initialized) {
          void send(parsed.message);
          return;
        }
        const opening = parsed.message.method === 'notifications/initialized';
        chain = chain.then(async () => {
          await send(parsed.message);
          if (opening) initialized = true;
        });
      },
      () => toHost(errorResponse(null, INVALID_REQUEST, 'Invalid Request: a line of over 64 MiB')),
    ),
  );
  process.stdin.on('end', () => {
    void chain.then(() => finish({ reason: 'host-closed' }));
  });
  options.signal.addEventListener('abort', () => void finish({ reason: 'stopped' }), {
    once: true,
  });
  if (options.signal.aborted) void finish({ reason: 'stopped' });
  return ended;
}

function findLatchkeyError(error: unknown): LatchkeyError | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth += 1) {
    if (isLatchkeyError(e)) return e;
    e = (e as { cause?: unknown } | null)?.cause;
  }
  return undefined;
}
