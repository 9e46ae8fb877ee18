import { join } from 'node:path';
import { inspect } from 'node:util';
import type { Credentials } from '../credentials.js';
import { LatchkeyError } from '../errors.js';
import type { Secret } from '../secret.js';
import type { Session } from '../session.js';
import { launchInput } from './credential-source.js';
import { defaultEnvironment } from './default-environment.js';
import { onHostExit } from './exit-cleanup.js';
import { injectContext, resolveInjection } from './injection.js';
import { createLaunchDir, type LaunchDir, usingDir } from './launch-dir.js';
import { checkRequirements } from './requirements.js';
import { createMasker } from './stderr-masking.js';
import type { McpServerSpec, ProviderClient, RefreshPolicy, StdioTransportSpec } from './types.js';

/** Options of {@link spawnDescription}. */
export interface SpawnDescriptionOptions {
  /**
   * Environment variables from the host, on top of the safe default environment
   * (`HOME`, `PATH`, `USER`...). The host's own environment is never passed whole.
   * Variables the recipe injects take precedence.
   */
  env?: Readonly<Record<string, string>>;
  /** The working directory; overrides the recipe's. */
  cwd?: string;
  /**
   * An existing private directory to write the credential files into. Default: a fresh
   * per-launch directory under `<tmpDir>/latchkey-<uid>/`.
   */
  dir?: string;
  /** Where per-launch directories are made (default: `os.tmpdir()`). */
  tmpDir?: string;
  /**
   * The OAuth client recipes see as `context.client`. Default: the session's provider's;
   * plain credentials have none unless given here.
   */
  client?: { clientId: string; clientSecret?: string | Secret };
}

/**
 * Everything needed to start a stdio server with its credentials, for a host that
 * spawns it its own way (a container, Electron's `utilityProcess`). Printing it or
 * `JSON.stringify` masks the credential values in `env`.
 */
export interface SpawnDescription {
  /** The recipe id. */
  readonly serverId: string;
  /** The program to run. */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** The complete environment to give it (holds credential values: never log it). */
  readonly env: Readonly<Record<string, string>>;
  /** The working directory, when one is set. */
  readonly cwd?: string;
  /** The directory holding the credential files. */
  readonly dir: string;
  /** The absolute paths of the credential files written. */
  readonly files: readonly string[];
  /** How the recipe expects new credentials to arrive; for `restart`, describe again and restart. */
  readonly refresh: RefreshPolicy;
  /** When the access token in these files and variables expires (epoch ms), if known. */
  readonly expiresAt?: number;
  /** Removes the credential files (and the directory, unless the host passed its own). */
  dispose(): Promise<void>;
}

/** A stdio launch with every credential value in place. Internal. */
export interface StdioLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  files: string[];
  secrets: Secret[];
}

/**
 * Runs the recipe for `credentials`, writes its files into `dir`, and composes the
 * environment: safe defaults, then the recipe's fixed variables, then the host's, then
 * the injected ones. Internal.
 */
export async function prepareStdio(
  spec: McpServerSpec,
  transport: StdioTransportSpec,
  credentials: Credentials,
  dir: LaunchDir,
  host: {
    env?: Readonly<Record<string, string>>;
    cwd?: string;
    client?: ProviderClient | undefined;
  },
): Promise<StdioLaunch> {
  const injection = resolveInjection(
    spec,
    credentials,
    injectContext(spec.id, dir.path, host.client),
  );
  await dir.write(injection.files);
  const cwd = host.cwd ?? transport.cwd;
  return {
    command: transport.command,
    args: [...(transport.args ?? []), ...injection.args],
    env: {
      ...defaultEnvironment(),
      ...transport.env,
      ...host.env,
      ...injection.env,
    },
    ...(cwd !== undefined ? { cwd } : {}),
    files: Object.keys(injection.files).map((name) => join(dir.path, name)),
    secrets: injection.secrets,
  };
}

/**
 * Writes a stdio server's credential files and returns the command, arguments and
 * environment to start it with, without starting anything. Checks the recipe's needs
 * first (`MISSING_CREDENTIAL`, `INSUFFICIENT_SCOPE`). Call `dispose()` when the server
 * has stopped; the files are also removed if the host exits or is signalled first.
 *
 * @see https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#stdio
 */
export async function spawnDescription(
  spec: McpServerSpec,
  sessionOrCredentials?: Session | Credentials,
  options: SpawnDescriptionOptions = {},
): Promise<SpawnDescription> {
  const transport = spec.transport;
  if (transport.kind !== 'stdio') {
    throw new LatchkeyError(
      'SERVER_CONFIG',
      `The MCP server "${spec.name}" (${spec.id}) is reached over http; there is nothing to spawn. Use launchServer() to connect to it.`,
    );
  }
  const { session, source, client, none } = launchInput(sessionOrCredentials, options.client);
  const credentials = await source.fresh();
  checkRequirements(spec, credentials, { client, none, implies: session?.provider.scopeImplies });
  const dir = options.dir
    ? usingDir(options.dir, false)
    : await createLaunchDir(options.tmpDir !== undefined ? { tmpDir: options.tmpDir } : {});
  const unregister = onHostExit(() => dir.disposeSync());
  let launch: StdioLaunch;
  try {
    launch = await prepareStdio(spec, transport, credentials, dir, { ...options, client });
  } catch (error) {
    unregister();
    await dir.dispose();
    throw error;
  }
  const masker = createMasker();
  masker.add(launch.secrets);
  const description = {
    serverId: spec.id,
    command: launch.command,
    args: Object.freeze(launch.args),
    env: Object.freeze(launch.env),
    ...(launch.cwd !== undefined ? { cwd: launch.cwd } : {}),
    dir: dir.path,
    files: Object.freeze(launch.files),
    refresh: spec.refresh,
    ...(credentials.expiresAt !== undefined ? { expiresAt: credentials.expiresAt } : {}),
    async dispose() {
      unregister();
      await dir.dispose();
    },
  };
  const safe = () => ({
    ...description,
    // Args carry no secrets by design; masking them too costs nothing if a recipe slips.
    args: launch.args.map((arg) => masker.mask(arg)),
    env: Object.fromEntries(Object.entries(launch.env).map(([k, v]) => [k, masker.mask(v)])),
  });
  Object.defineProperties(description, {
    toJSON: { value: safe },
    [inspect.custom]: { value: () => `SpawnDescription ${inspect(safe())}` },
  });
  return description satisfies SpawnDescription;
}
