import { inspect } from 'node:util';
import type { Credentials } from '../credentials.js';
import { LatchkeyError } from '../errors.js';
import type { Secret } from '../secret.js';
import type { Session } from '../session.js';
import { listeners } from '../util/listeners.js';
import { authorizedFetch } from './authorized-fetch.js';
import { connectHttp, connectStdio } from './connection.js';
import { credentialFetch } from './credential-fetch.js';
import { launchInput } from './credential-source.js';
import type { ServerEvent } from './events.js';
import { onHostExit } from './exit-cleanup.js';
import { injectContext, resolveInjection } from './injection.js';
import { createLaunchDir, type LaunchDir } from './launch-dir.js';
import type { ClientInfo, McpSdk } from './mcp-sdk.js';
import { refreshSchedule } from './refresh-schedule.js';
import { checkRequirements } from './requirements.js';
import { prepareStdio } from './spawn-description.js';
import { createMasker } from './stderr-masking.js';
import { supervisedClient } from './supervised-client.js';
import { type CrashRestartOptions, createSupervisor } from './supervisor.js';
import type { McpServerSpec } from './types.js';

/**
 * The options of `launchServer()` that do not depend on the host's MCP SDK; each SDK
 * entry's `LaunchServerOptions` adds that SDK's client options.
 */
export interface LaunchOptions {
  /**
   * Environment variables from the host, on top of the safe default environment
   * (`HOME`, `PATH`, `USER`...). The host's own environment is never passed whole;
   * variables the recipe injects take precedence over these.
   */
  env?: Readonly<Record<string, string>>;
  /** The working directory of a stdio server; overrides the recipe's. */
  cwd?: string;
  /** Progress: start, stderr lines (masked), restarts, exits. */
  onEvent?: (event: ServerEvent) => void;
  /** Aborts the launch (`AUTH_CANCELLED`) while the server starts. */
  signal?: AbortSignal;
  /** How long the server gets to answer `initialize` (default 30 s). */
  startTimeoutMs?: number;
  /** How long a stopping server gets before it is killed (default 5 s). */
  closeTimeoutMs?: number;
  /**
   * With a session and the `restart` policy: how long before expiry to refresh and
   * restart (default 60 s, at most half the token's lifetime).
   */
  refreshBeforeExpiryMs?: number;
  /** Restart a stdio server that crashes, with backoff (default: no). */
  restartOnCrash?: boolean | CrashRestartOptions;
  /**
   * The OAuth client recipes see as `context.client` (`client.clientId`,
   * `client.clientSecret`). Default: the session's provider's; plain credentials have
   * none unless given here.
   */
  client?: { clientId: string; clientSecret?: string | Secret };
  /** The `fetch` for http servers; Latchkey adds the credential headers to it. */
  fetch?: typeof fetch;
  /** Where per-launch directories are made (default: `os.tmpdir()`). */
  tmpDir?: string;
}

/**
 * A running MCP server, as `launchServer()` returns it, apart from its `client`: each SDK
 * entry's `LaunchedServer` adds that SDK's own `Client`.
 */
export interface LaunchHandle {
  /** The recipe id. */
  readonly serverId: string;
  /** The server's process id (stdio), while it runs. */
  readonly pid: number | undefined;
  /** The private directory with its credential files (stdio). */
  readonly dir: string | undefined;
  /**
   * Settles when the launch ends: with `undefined` after `close()`, or with the error
   * (`SERVER_EXITED` with the last stderr lines, masked) after a crash that was not, or
   * could no longer be, restarted.
   */
  readonly closed: Promise<LatchkeyError | undefined>;
  /** Restarts the server with fresh credentials. */
  restart(): Promise<void>;
  /**
   * Hands new credentials to a server launched with plain credentials, under the
   * recipe's refresh policy. (A server launched with a session follows the session.)
   */
  updateCredentials(credentials: Credentials): Promise<void>;
  /** Adds an event listener; returns a function that removes it. */
  onEvent(listener: (event: ServerEvent) => void): () => void;
  /** Stops the server (stdin closed, then SIGTERM, then SIGKILL) and removes its files. */
  close(): Promise<void>;
  /** A summary without secrets; `JSON.stringify(server)` and `console.log` use it. */
  toJSON(): { serverId: string; pid: number | undefined; dir: string | undefined };
}

const DEFAULT_CRASH_RESTARTS: Required<CrashRestartOptions> = {
  maxRestarts: 3,
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  stableAfterMs: 60_000,
};

function crashLimits(option: LaunchOptions['restartOnCrash']): Required<CrashRestartOptions> {
  if (option === undefined || option === false)
    return { ...DEFAULT_CRASH_RESTARTS, maxRestarts: 0 };
  return option === true ? DEFAULT_CRASH_RESTARTS : { ...DEFAULT_CRASH_RESTARTS, ...option };
}

/** What every SDK entry's `launchServer()` is given. Internal. */
export interface LaunchWithOptions extends LaunchOptions {
  clientInfo?: ClientInfo;
  clientOptions?: object;
}

/**
 * `launchServer()` for one SDK line: starts the server, connects that SDK's `Client` and
 * supervises it. `C` is the SDK's `Client` type. Internal.
 */
export async function launchWith<C extends object>(
  sdk: McpSdk,
  spec: McpServerSpec,
  sessionOrCredentials: Session | Credentials | undefined,
  options: LaunchWithOptions = {},
): Promise<LaunchHandle & { readonly client: C }> {
  if (typeof spec !== 'object' || spec === null || typeof spec.inject !== 'function') {
    throw new TypeError('launchServer() takes a recipe made by defineServer()');
  }
  // A session is used as it is; a host's plain credentials are held, and replaced by updateCredentials().
  const {
    session,
    held,
    source,
    client: providerOAuthClient,
    none,
  } = launchInput(sessionOrCredentials, options.client);
  const label = `"${spec.name}" (${spec.id})`;
  if (options.signal?.aborted) {
    throw new LatchkeyError('AUTH_CANCELLED', `Starting the MCP server ${label} was cancelled.`);
  }
  const initial = await source.fresh();
  // Only an MCP login reaching its own server over http sends each request through Latchkey.
  const latchkeySends = spec.transport.kind === 'http' && session?.provider.strategy.kind === 'mcp';
  checkRequirements(spec, initial, {
    client: providerOAuthClient,
    latchkeySends,
    none,
    implies: session?.provider.scopeImplies,
  });

  const events = listeners<ServerEvent>();
  if (options.onEvent) events.add(options.onEvent);
  const emit = events.emit;
  const transport = spec.transport;
  const masker = createMasker();
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const { client, handshakeTimeoutMs } = await sdk.client(
    options.clientInfo ?? { name: 'latchkey', version: '0.0.0' },
    options.clientOptions,
    startTimeoutMs,
  );
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
  const dir: LaunchDir | undefined =
    transport.kind === 'stdio'
      ? await createLaunchDir(options.tmpDir !== undefined ? { tmpDir: options.tmpDir } : {})
      : undefined;

  let lastToken = initial.accessToken.reveal();
  let appliedToken: string | undefined;
  const schedule = refreshSchedule({
    source,
    refreshable: session !== undefined,
    ...(options.refreshBeforeExpiryMs !== undefined
      ? { leadMs: options.refreshBeforeExpiryMs }
      : {}),
    onRefreshed: (credentials) => apply(credentials),
    onError: (error, retryInMs) =>
      emit({
        type: 'server_refresh_failed',
        serverId: spec.id,
        code: error.code,
        ...(retryInMs !== undefined ? { retryInMs } : {}),
      }),
  });

  const supervisor = createSupervisor({
    label,
    crashRestarts: crashLimits(options.restartOnCrash),
    fresh: () => source.fresh(),
    async connect(credentials, generation, signal, onClose) {
      emit({ type: 'server_starting', serverId: spec.id, transport: transport.kind, generation });
      const common = {
        sdk,
        client,
        handshakeTimeoutMs,
        label,
        masker,
        startTimeoutMs,
        closeTimeoutMs,
        signal,
        onClose,
      };
      if (transport.kind === 'stdio') {
        const launch = await prepareStdio(spec, transport, credentials, dir as LaunchDir, {
          ...options,
          client: providerOAuthClient,
        });
        masker.add(launch.secrets);
        return connectStdio({
          ...common,
          launch,
          onStderrLine: (line) => emit({ type: 'server_stderr', serverId: spec.id, line }),
        });
      }
      const context = injectContext(spec.id, undefined, providerOAuthClient);
      const fixed = resolveInjection(spec, credentials, context);
      masker.add(fixed.secrets);
      // An MCP-authorized session also answers the server's 401 (refresh or sign in again,
      // once) and 403 insufficient_scope (step-up), bounded. It owns the bearer header
      // (set after the recipe's headers, from fresh credentials), and its discovery
      // requests go out through the plain fetch, without credentials.
      const plain = options.fetch ?? globalThis.fetch;
      const mcpSession = session?.provider.strategy.kind === 'mcp' ? session : undefined;
      const inner = mcpSession ? authorizedFetch(mcpSession, { fetch: plain }) : plain;
      const headers =
        spec.refresh === 'per-request' && !mcpSession
          ? async () => resolveInjection(spec, await source.fresh(), context).headers
          : () => fixed.headers;
      return connectHttp({
        ...common,
        url: transport.url,
        fetch: credentialFetch({ headers, fetch: inner }),
      });
    },
    restarting: (reason, delayMs) =>
      emit({
        type: 'server_restarting',
        serverId: spec.id,
        reason,
        ...(delayMs !== undefined ? { delayMs } : {}),
      }),
    exited: (pid, expected) =>
      emit({
        type: 'server_exited',
        serverId: spec.id,
        ...(pid !== undefined ? { pid } : {}),
        expected,
      }),
    started(connection, generation, credentials) {
      emit({
        type: 'server_started',
        serverId: spec.id,
        ...(connection.pid !== undefined ? { pid: connection.pid } : {}),
        generation,
      });
      const token = credentials.accessToken.reveal();
      if (appliedToken !== undefined && appliedToken !== token) {
        emit({
          type: 'server_credentials_updated',
          serverId: spec.id,
          ...(credentials.expiresAt !== undefined ? { expiresAt: credentials.expiresAt } : {}),
        });
      }
      appliedToken = token;
      lastToken = token;
      if (spec.refresh === 'restart') schedule.schedule(credentials);
    },
    async finish(error) {
      schedule.stop();
      unsubscribe();
      unregisterExit();
      await dir?.dispose();
      emit({ type: 'server_closed', serverId: spec.id, ...(error ? { error: error.code } : {}) });
    },
  });

  /** New credentials from the session, the timer or the host: hand them over per policy. */
  function apply(credentials: Credentials): void {
    const token = credentials.accessToken.reveal();
    if (token === lastToken) return;
    lastToken = token;
    if (spec.refresh === 'restart') {
      supervisor.restart('credentials', credentials).catch(() => {
        // Reported through events and `closed`.
      });
    } else if (spec.refresh === 'per-request') {
      emit({
        type: 'server_credentials_updated',
        serverId: spec.id,
        ...(credentials.expiresAt !== undefined ? { expiresAt: credentials.expiresAt } : {}),
      });
    }
  }

  const unsubscribe = source.onChange(apply);
  // Only a process and a directory need cleaning up if the host ends first.
  const unregisterExit = dir
    ? onHostExit(() => {
        supervisor.killSync();
        dir.disposeSync();
      })
    : () => {};

  await supervisor.start(initial, options.signal);

  // The SDK's transport keeps the environment it spawned with: never print through it.
  Object.defineProperty(client, inspect.custom, { value: () => `Client { server: ${label} }` });
  const summary = () => ({ serverId: spec.id, pid: supervisor.pid, dir: dir?.path });
  const handle = {
    serverId: spec.id,
    client: supervisedClient(client as unknown as C, supervisor),
    get pid() {
      return supervisor.pid;
    },
    dir: dir?.path,
    closed: supervisor.closed,
    restart: () => supervisor.restart('requested'),
    async updateCredentials(credentials: Credentials) {
      if (!held) {
        throw new TypeError(
          'This server follows a session; its credentials change when the session refreshes',
        );
      }
      held.update(credentials);
      await supervisor.idle();
    },
    onEvent: events.add,
    close: () => supervisor.close(),
    toJSON: summary,
    [inspect.custom]: () => `LaunchedServer ${inspect(summary())}`,
  };
  return handle satisfies LaunchHandle & { readonly client: C };
}
