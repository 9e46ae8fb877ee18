// Bad input to defineServer() and launchServer(), each with its error code; nothing is
// spawned when the credentials do not fit, and nothing is left behind when a start fails.
import { startAuthServer, type TestAuthServer } from '@latchkey/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticate,
  defineServer,
  isLatchkeyError,
  type McpServerSpec,
  memoryStore,
  Secret,
  type ServerDefinition,
  type Session,
} from '../src/index.js';
import { launchServer } from '../src/sdk-v1.js';
import { options, testProvider, unattendedUser } from './helpers.js';
import {
  canaryToken,
  childPids,
  fixtureRecipe,
  launchTmp,
  leakWatch,
  plainCredentials,
  processGone,
} from './launch-helpers.js';

let auth: TestAuthServer;
let session: Session;
let tmp: Awaited<ReturnType<typeof launchTmp>>;

beforeAll(async () => {
  auth = await startAuthServer({ accessTokenTtl: 600 });
  session = await authenticate(
    testProvider(auth),
    options({ store: memoryStore(), openUrl: unattendedUser().openUrl }),
  );
  tmp = await launchTmp();
});
afterAll(async () => {
  await auth?.close();
  await tmp?.remove();
});
afterEach(() => {
  expect(childPids(), 'child processes left behind').toEqual([]);
  expect(tmp.launchDirs(), 'launch directories left behind').toEqual([]);
});

/** Launches and expects a failure; returns the error. */
async function failure(
  spec: McpServerSpec,
  credentials: Parameters<typeof launchServer>[1],
  extra: Parameters<typeof launchServer>[2] = {},
): Promise<Error & { code?: string }> {
  const result = await launchServer(spec, credentials, { tmpDir: tmp.dir, ...extra }).then(
    async (server) => {
      await server.close();
      return new Error('the launch succeeded');
    },
    (error: unknown) => error as Error,
  );
  return result;
}

const notACommand = '/nonexistent/latchkey-test-server';
const neverSpawned = (definition: Partial<ServerDefinition>) =>
  defineServer({
    id: 'never-spawned',
    transport: { kind: 'stdio', command: notACommand },
    inject: (c) => ({ env: { TOKEN: c.accessToken } }),
    ...definition,
  });

describe('launchServer failures', () => {
  it('a command that does not exist: SERVER_SPAWN_FAILED naming it', async () => {
    const error = await failure(
      defineServer({
        id: 'missing',
        transport: { kind: 'stdio', command: 'latchkey-no-such-cmd' },
      }),
      plainCredentials(canaryToken()),
    );
    expect(isLatchkeyError(error, 'SERVER_SPAWN_FAILED')).toBe(true);
    expect(error.message).toContain('"latchkey-no-such-cmd" was not found');
  });

  it('a server that exits during initialize: SERVER_EXITED with its stderr, masked', async () => {
    const token = canaryToken();
    const watch = leakWatch();
    const error = await failure(
      fixtureRecipe({ mode: 'exit-on-initialize' }),
      plainCredentials(token),
      {
        onEvent: watch.onEvent,
      },
    );
    expect(isLatchkeyError(error, 'SERVER_EXITED')).toBe(true);
    expect(error.message).toContain('before it answered initialize');
    expect(error.message).toContain('fatal: the service rejected token [redacted]');
    expect(watch.stderr()).toContain('fatal: the service rejected token [redacted]');
    watch.record(error);
    expect(watch.leaks([token])).toEqual([]);
  });

  it('a server that never answers initialize: SERVER_SPAWN_FAILED after startTimeoutMs, killed', async () => {
    const started = Date.now();
    const error = await failure(fixtureRecipe({ mode: 'hang' }), plainCredentials(canaryToken()), {
      startTimeoutMs: 1_500,
      closeTimeoutMs: 500,
    });
    expect(isLatchkeyError(error, 'SERVER_SPAWN_FAILED')).toBe(true);
    expect(error.message).toContain('did not answer initialize within 2 s');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('close() kills a server that ignores stdin closing and SIGTERM after closeTimeoutMs', async () => {
    const server = await launchServer(
      fixtureRecipe({ mode: 'stubborn' }),
      plainCredentials(canaryToken()),
      {
        tmpDir: tmp.dir,
        closeTimeoutMs: 500,
      },
    );
    const pid = server.pid;
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    await processGone(pid, 1_000);
  });

  it('an aborted launch: AUTH_CANCELLED, and the server is stopped', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const error = await failure(fixtureRecipe({ mode: 'hang' }), plainCredentials(canaryToken()), {
      signal: controller.signal,
      closeTimeoutMs: 500,
    });
    expect(isLatchkeyError(error, 'AUTH_CANCELLED')).toBe(true);
  });

  it('credentials missing a field the recipe needs: MISSING_CREDENTIAL naming it, nothing spawned', async () => {
    const error = await failure(
      neverSpawned({ credentials: ['accessToken', 'refreshToken', 'secrets.cookie'] }),
      plainCredentials(canaryToken()),
    );
    expect(isLatchkeyError(error, 'MISSING_CREDENTIAL')).toBe(true);
    expect(error.message).toContain('"refreshToken", "secrets.cookie"');

    const metadata = await failure(
      neverSpawned({ credentials: ['metadata.team'] }),
      plainCredentials(canaryToken(), { metadata: { email: 'a@b.test' } }),
    );
    expect(metadata.message).toContain('"metadata.team"');
  });

  it('credentials from another provider: MISSING_CREDENTIAL naming both', async () => {
    const error = await failure(neverSpawned({ provider: 'google' }), session);
    expect(isLatchkeyError(error, 'MISSING_CREDENTIAL')).toBe(true);
    expect(error.message).toContain('"google"');
    expect(error.message).toContain('"test-as"');
  });

  it('a session without a required scope: INSUFFICIENT_SCOPE naming it, nothing spawned', async () => {
    const error = await failure(neverSpawned({ scopes: ['read', 'write', 'admin'] }), session);
    expect(isLatchkeyError(error, 'INSUFFICIENT_SCOPE')).toBe(true);
    expect(error.message).toContain('"write", "admin"');
    expect(error.message).not.toContain('"read"');
  });

  it('a server that prints the token to stderr: every line is masked', async () => {
    const token = canaryToken();
    const watch = leakWatch();
    const server = await launchServer(
      fixtureRecipe({ mode: 'print-token' }),
      plainCredentials(token),
      {
        tmpDir: tmp.dir,
        onEvent: watch.onEvent,
      },
    );
    await server.client.listTools();
    await server.close();
    expect(watch.stderr()).toContain('debug: starting with token [redacted]');
    watch.record(server);
    expect(watch.leaks([token])).toEqual([]);
  });

  it('an inject() that throws, quoting the token: SERVER_CONFIG, masked', async () => {
    const token = canaryToken();
    const error = await failure(
      neverSpawned({
        inject: (c) => {
          throw new Error(`cannot use ${c.accessToken.reveal()}`);
        },
      }),
      plainCredentials(token),
    );
    expect(isLatchkeyError(error, 'SERVER_CONFIG')).toBe(true);
    expect(error.message).toContain('cannot use [redacted]');
    expect(error.message).not.toContain(token);
  });

  it('an inject() returning a bad file name: SERVER_CONFIG naming it', async () => {
    const error = await failure(
      neverSpawned({ inject: (c) => ({ files: { '../escape': c.accessToken } }) }),
      plainCredentials(canaryToken()),
    );
    expect(isLatchkeyError(error, 'SERVER_CONFIG')).toBe(true);
    expect(error.message).toContain('"../escape"');
  });

  it('a credential in the arguments, where every user of the machine can read it: SERVER_CONFIG before spawning', async () => {
    const token = canaryToken('argv');
    const error = await failure(
      neverSpawned({
        credentials: ['accessToken'],
        inject: (c) => ({ args: ['--token', c.accessToken.reveal()] }),
      }),
      plainCredentials(token),
    );
    expect(isLatchkeyError(error, 'SERVER_CONFIG')).toBe(true);
    expect(error.message).toContain('args[1]');
    expect(error.message).toContain('pass it in env, or write it to a file');
    expect(error.message).not.toContain(token);
    // A token inside a longer argument counts too.
    const embedded = await failure(
      neverSpawned({ inject: (c) => ({ args: [`--token=${c.accessToken.reveal()}`] }) }),
      plainCredentials(token),
    );
    expect(isLatchkeyError(embedded, 'SERVER_CONFIG')).toBe(true);
    expect(embedded.message).toContain('args[0]');
  });

  it('a server that needs no credentials launches without any; one that needs some says what', async () => {
    const needsNothing = defineServer({
      id: 'needs-nothing',
      transport: fixtureRecipe().transport,
    });
    const server = await launchServer(needsNothing, undefined, { tmpDir: tmp.dir });
    try {
      expect((await server.client.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
    const needsToken = await failure(fixtureRecipe(), undefined);
    expect(isLatchkeyError(needsToken, 'MISSING_CREDENTIAL')).toBe(true);
    expect(needsToken.message).toContain('"accessToken"');
    expect(needsToken.message).toContain('launched without credentials');
  });

  it('an inject() that reads a field it did not declare, which the login lacks: SERVER_CONFIG naming it, never a TypeError', async () => {
    const error = await failure(
      neverSpawned({
        credentials: ['accessToken'],
        inject: (c) => ({ env: { COOKIE: (c.secrets.d as Secret).reveal() } }),
      }),
      plainCredentials(canaryToken()),
    );
    expect(isLatchkeyError(error, 'SERVER_CONFIG')).toBe(true);
    expect(error.message).toContain('"secrets.d"');
    expect(error.message).toContain('does not declare');
    expect(error.message).not.toContain('Cannot read properties');
  });

  it('an inject() that would put the string "undefined" in the environment: SERVER_CONFIG naming the field', async () => {
    const error = await failure(
      neverSpawned({
        credentials: ['accessToken'],
        inject: (c) => ({ env: { TEAM: String(c.metadata.team), TOKEN: c.accessToken } }),
      }),
      plainCredentials(canaryToken()),
    );
    expect(isLatchkeyError(error, 'SERVER_CONFIG')).toBe(true);
    expect(error.message).toContain('"metadata.team"');
    // Declared, the same field is caught before inject() runs.
    const declared = await failure(
      neverSpawned({
        credentials: ['accessToken', 'metadata.team'],
        inject: (c) => ({ env: { TEAM: String(c.metadata.team) } }),
      }),
      plainCredentials(canaryToken()),
    );
    expect(isLatchkeyError(declared, 'MISSING_CREDENTIAL')).toBe(true);
  });

  it('misuse throws TypeError', async () => {
    const creds = { ...plainCredentials('x'), accessToken: 'plain string' };
    await expect(
      launchServer(fixtureRecipe(), creds as unknown as Parameters<typeof launchServer>[1]),
    ).rejects.toThrow(TypeError);
    await expect(
      launchServer({} as McpServerSpec, plainCredentials(canaryToken())),
    ).rejects.toThrow(TypeError);
  });
});

describe('defineServer checks recipes at definition time', () => {
  const base: ServerDefinition = { id: 'ok', transport: { kind: 'stdio', command: 'x' } };
  const cases: Array<[string, Partial<ServerDefinition> | Record<string, unknown>, string]> = [
    ['bad id', { id: 'no spaces' }, '"id"'],
    ['no transport', { transport: undefined }, '"transport"'],
    ['unknown kind', { transport: { kind: 'sse', url: 'https://x' } }, '"transport.kind"'],
    ['empty command', { transport: { kind: 'stdio', command: ' ' } }, '"transport.command"'],
    [
      'args not strings',
      { transport: { kind: 'stdio', command: 'x', args: [1] } },
      '"transport.args"',
    ],
    [
      'plain http off loopback',
      { transport: { kind: 'http', url: 'http://example.com/mcp' } },
      '"transport.url"',
    ],
    ['per-request on stdio', { refresh: 'per-request' }, '"refresh"'],
    ['unknown policy', { refresh: 'sometimes' }, '"refresh"'],
    ['unknown credential field', { credentials: ['password'] }, '"credentials"'],
    ['inject not a function', { inject: 'env' }, '"inject"'],
    ['empty scope', { scopes: [''] }, '"scopes"'],
  ];
  it.each(cases)('%s: SERVER_CONFIG naming the field', (_name, patch, field) => {
    const error = (() => {
      try {
        defineServer({ ...base, ...patch } as ServerDefinition);
      } catch (e) {
        return e as Error;
      }
      return new Error('accepted');
    })();
    expect(isLatchkeyError(error, 'SERVER_CONFIG')).toBe(true);
    expect(error.message).toContain(field);
  });

  it('fills in defaults and freezes', () => {
    const spec = defineServer({
      id: 'http-one',
      transport: { kind: 'http', url: 'https://mcp.example.com/mcp' },
      inject: (c) => ({
        headers: { authorization: new Secret(`Bearer ${c.accessToken.reveal()}`) },
      }),
    });
    expect(spec).toMatchObject({
      name: 'http-one',
      refresh: 'per-request',
      scopes: [],
      credentials: [],
    });
    expect(Object.isFrozen(spec)).toBe(true);
    expect(defineServer(base).refresh).toBe('self');
    expect(defineServer({ ...base, inject: () => ({}) }).refresh).toBe('restart');
    expect(() => defineServer(null as unknown as ServerDefinition)).toThrow(TypeError);
  });
});
