import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type Conf from 'conf';
import { LatchkeyError } from '../errors.js';
import { sleep } from '../util/abort.js';
import {
  cancelledError,
  createKeyedMutex,
  DEFAULT_LOCK_TIMEOUT_MS,
  formatSeconds,
  resolveLockTimeout,
  throwIfAborted,
} from './locks.js';
import type { CredentialStore, JsonObject, LockOptions } from './types.js';

/** Options of {@link fileStore}. */
export interface FileStoreOptions {
  /**
   * The directory that holds the store file. Default: the user's configuration
   * directory for `latchkey` — `$XDG_CONFIG_HOME/latchkey` or `~/.config/latchkey` on
   * Linux, `~/Library/Preferences/latchkey` on macOS, `%APPDATA%\latchkey\Config` on
   * Windows. It is created with mode 0700 when missing.
   */
  directory?: string;
  /** The base name of the store file, without extension. Default `credentials`. */
  name?: string;
  /**
   * Encrypts the file at rest with AES-256-GCM under a key derived from this value.
   * Reading the file with another key fails with `STORE_CORRUPT`.
   */
  encryptionKey?: string | Uint8Array;
  /**
   * After how long a lock file whose holder stopped updating it is taken over, in
   * milliseconds. Default 10 000; values under 2 000 count as 2 000. A holder refreshes
   * its lock file every `lockStaleMs / 2` (at least every second).
   */
  lockStaleMs?: number;
}

/** A {@link CredentialStore} kept in a JSON file, with the file's location. */
export type FileStore = CredentialStore & {
  /** The absolute path of the store file. */
  readonly path: string;
};

type Store = Record<string, JsonObject>;
type ProperLockfile = typeof import('proper-lockfile');
type ConfConstructor = typeof import('conf').default;
type Unlock = () => Promise<void>;

const PROJECT_NAME = 'latchkey';
const DEFAULT_NAME = 'credentials';
const DEFAULT_STALE_MS = 10_000;
// proper-lockfile never treats a lock as stale before 2 s, whatever it is told.
const MIN_STALE_MS = 2_000;
// conf keeps its migration data under this top-level key and copies it from the file
// into every write that lacks it (see writeAll).
const CONF_INTERNAL_KEY = '__internal__';

// In-process exclusion for every lock file, keyed by its absolute path, shared by all
// file stores of this process: proper-lockfile alone would make them poll each other.
const processLocks = createKeyedMutex();

let confModule: Promise<typeof import('conf')> | undefined;
let lockfileModule: Promise<ProperLockfile> | undefined;

// Both dependencies load on first use only, so importing Latchkey stays light.
async function loadConf(): Promise<ConfConstructor> {
  confModule ??= import('conf').catch((error: unknown) => {
    confModule = undefined;
    throw error;
  });
  const loaded: { default: unknown } = await confModule;
  // A bundler that turns import() into require() may wrap the namespace once more.
  const candidate = loaded.default;
  return (
    typeof candidate === 'function' ? candidate : (candidate as { default: unknown }).default
  ) as ConfConstructor;
}

async function loadLockfile(): Promise<ProperLockfile> {
  lockfileModule ??= import('proper-lockfile').catch((error: unknown) => {
    lockfileModule = undefined;
    throw error;
  });
  const loaded = await lockfileModule;
  // proper-lockfile is CommonJS: its functions hang off the default export.
  return (loaded as { default?: ProperLockfile }).default ?? loaded;
}

/**
 * Creates a credential store kept in one JSON file, shared safely between processes.
 *
 * The file (mode 0600, written atomically) lives in `options.directory` (mode 0700),
 * and is encrypted when `options.encryptionKey` is given. Every read goes to the file,
 * so changes made by other processes are seen at once; every write takes a lock file
 * next to it, so concurrent writers never lose each other's changes. `lock` holds a
 * lock file per key under `<name>.locks/`. A file that cannot be read as credentials
 * fails with `STORE_CORRUPT` and is never modified.
 */
export function fileStore(options: FileStoreOptions = {}): FileStore {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('fileStore() options must be an object');
  }
  const directory = resolve(
    options.directory === undefined ? defaultDirectory() : checkDirectory(options.directory),
  );
  const name = checkName(options.name ?? DEFAULT_NAME);
  const encryptionKey = checkEncryptionKey(options.encryptionKey);
  const staleMs = Math.max(MIN_STALE_MS, checkStale(options.lockStaleMs ?? DEFAULT_STALE_MS));

  const filePath = join(directory, `${name}.json`);
  const writeLockPath = `${filePath}.lock`;
  const locksDirectory = join(directory, `${name}.locks`);

  let confPromise: Promise<Conf<Store>> | undefined;

  const open = async (): Promise<Conf<Store>> => {
    // Created here, with our mode, before conf would create it with the default one.
    await ensurePrivateDirectory(directory);
    confPromise ??= (async () => {
      const ConfClass = await loadConf();
      try {
        // The constructor reads the file once, so a corrupt file already fails here.
        return new ConfClass<Store>({
          cwd: directory,
          configName: name,
          fileExtension: 'json',
          projectName: PROJECT_NAME,
          projectSuffix: '',
          configFileMode: 0o600,
          clearInvalidConfig: false,
          watch: false,
          accessPropertiesByDotNotation: false,
          serialize: (value) => JSON.stringify(value, undefined, '\t'),
          deserialize: parseStore,
          ...(encryptionKey === undefined
            ? {}
            : { encryptionKey, encryptionAlgorithm: 'aes-256-gcm' as const }),
        });
      } catch (error) {
        throw readError(error);
      }
    })();
    const opening = confPromise;
    try {
      return await opening;
    } catch (error) {
      // Retried on the next call, e.g. once the user has moved a corrupt file aside.
      if (confPromise === opening) confPromise = undefined;
      throw error;
    }
  };

  // A plain file is read directly: loading conf (and its schema validator) costs a new
  // process tens of milliseconds, which reads need not pay. Writes still go through conf.
  const readCurrent = async (): Promise<Store> => {
    if (encryptionKey !== undefined) return readAll(await open());
    let text: string;
    try {
      text = await readFile(filePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw readError(error);
    }
    try {
      return parseStore(text);
    } catch (error) {
      throw readError(error);
    }
  };

  const readAll = (conf: Conf<Store>): Store => {
    try {
      // conf reads and parses the whole file on every access; nothing is cached.
      return conf.store;
    } catch (error) {
      throw readError(error);
    }
  };

  const writeAll = async (conf: Conf<Store>, all: Store): Promise<void> => {
    // Without this key, conf's setter re-reads the file to carry its internal data over:
    // a wasted read (and key derivation when encrypted) that would also bring a deleted
    // credential named `__internal__` back. Not enumerable, so it is never written.
    if (!Object.hasOwn(all, CONF_INTERNAL_KEY)) {
      Object.defineProperty(all, CONF_INTERNAL_KEY, {
        value: undefined,
        enumerable: false,
        configurable: true,
        writable: true,
      });
    }
    try {
      // Written to a temporary file with mode 0600 that is renamed over the store file.
      conf.store = all;
    } catch (error) {
      throw ioError(error, `write the credential store file ${filePath}`);
    }
    await tightenFileMode(filePath);
  };

  const readError = (error: unknown): LatchkeyError => {
    if (error instanceof LatchkeyError) return error;
    if (error instanceof UnreadableStore || isDecryptionFailure(error)) {
      const problem =
        error instanceof UnreadableStore
          ? error.reason === 'json'
            ? encryptionKey === undefined
              ? 'is not valid JSON (if it was written with an encryptionKey, give the same key)'
              : 'does not hold valid JSON once decrypted'
            : 'does not hold credentials (a JSON object whose values are objects)'
          : 'cannot be decrypted with the given encryptionKey (wrong key, a file written without encryption, or a damaged file)';
      return new LatchkeyError(
        'STORE_CORRUPT',
        `The credential store file ${filePath} ${problem}. It was left untouched. Open it with the settings it was written with, or move it aside (for example rename it to ${name}.json.bad) to start with an empty store and sign in again.`,
      );
    }
    return ioError(error, `read the credential store file ${filePath}`);
  };

  const withFileLock = async <T>(
    lockPath: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    prepare: () => Promise<void>,
    fn: () => Promise<T>,
  ): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    const timedOut = (): LatchkeyError =>
      new LatchkeyError(
        'STORE_LOCKED',
        `Timed out after ${formatSeconds(timeoutMs)} waiting for the lock file ${lockPath}: another process, or another operation in this process, holds it. A lock whose holder stopped is taken over once it is ${formatSeconds(staleMs)} old; if this keeps happening, look for another process using the same credential store, or wait longer (timeoutMs).`,
      );
    const releaseInProcess = await processLocks.acquire(lockPath, {
      timeoutMs,
      signal,
      onTimeout: timedOut,
    });
    try {
      await prepare();
      const lockfile = await loadLockfile();
      const compromised: { error?: Error } = {};
      const unlock = await acquireLockFile(lockfile, lockPath, {
        deadline,
        signal,
        staleMs,
        compromised,
        timedOut,
        prepare,
      });
      let outcome: { ok: true; value: T } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: await fn() };
      } catch (error) {
        outcome = { ok: false, error };
      }
      try {
        await unlock();
      } catch {
        // Already released because it was compromised, or its directory vanished: in
        // both cases there is nothing left to remove, and at worst it goes stale.
      }
      if (compromised.error !== undefined) {
        throw new LatchkeyError(
          'STORE_LOCKED',
          `The lock file ${lockPath} was lost while it was held: it could not be refreshed in time, so another process may have taken it over as stale and worked at the same time. Retry the operation; if the machine is very busy or sleeps, give the store a longer lockStaleMs.`,
          { cause: compromised.error },
        );
      }
      if (!outcome.ok) throw outcome.error;
      return outcome.value;
    } finally {
      releaseInProcess();
    }
  };

  const withWriteLock = async (fn: (conf: Conf<Store>) => Promise<void>): Promise<void> => {
    const conf = await open();
    await withFileLock(
      writeLockPath,
      DEFAULT_LOCK_TIMEOUT_MS,
      undefined,
      () => ensurePrivateDirectory(directory),
      () => fn(conf),
    );
  };

  const store = {
    get path(): string {
      return filePath;
    },

    async get(key: string): Promise<JsonObject | undefined> {
      assertKey(key);
      const all = await readCurrent();
      // Parsed afresh from the file on every call, so never shared with anyone.
      return Object.hasOwn(all, key) ? all[key] : undefined;
    },

    async set(key: string, value: JsonObject): Promise<void> {
      assertKey(key);
      const copy = jsonCopy(value);
      await withWriteLock(async (conf) => {
        const all = readAll(conf);
        all[key] = copy;
        await writeAll(conf, all);
      });
    },

    async delete(key: string): Promise<void> {
      assertKey(key);
      await withWriteLock(async (conf) => {
        const all = readAll(conf);
        if (!Object.hasOwn(all, key)) return;
        delete all[key];
        await writeAll(conf, all);
      });
    },

    async list(prefix?: string): Promise<string[]> {
      if (prefix !== undefined && typeof prefix !== 'string') {
        throw new TypeError('The prefix given to list() must be a string');
      }
      const start = prefix ?? '';
      const all = await readCurrent();
      return Object.keys(all)
        .filter((key) => key.startsWith(start))
        .sort();
    },

    async lock<T>(key: string, fn: () => Promise<T>, lockOptions?: LockOptions): Promise<T> {
      assertKey(key);
      if (typeof fn !== 'function') throw new TypeError('lock() needs a function to run');
      const timeoutMs = resolveLockTimeout(lockOptions);
      const signal = lockOptions?.signal;
      throwIfAborted(signal);
      const digest = createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 32);
      return withFileLock(
        join(locksDirectory, `${digest}.lock`),
        timeoutMs,
        signal,
        async () => {
          await ensurePrivateDirectory(directory);
          await ensurePrivateDirectory(locksDirectory);
        },
        fn,
      );
    },
  } satisfies FileStore;
  return store;
}

/** Why a file that was read is not a credential store. */
class UnreadableStore extends Error {
  override readonly name = 'UnreadableStore';
  constructor(readonly reason: 'json' | 'shape') {
    // Never carries the parser's message: it quotes the file's contents.
    super(reason === 'json' ? 'The file is not valid JSON' : 'The file does not hold credentials');
  }
}

function parseStore(text: string): Store {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UnreadableStore('json');
  }
  if (!isJsonObject(parsed)) throw new UnreadableStore('shape');
  for (const value of Object.values(parsed)) {
    if (!isJsonObject(value)) throw new UnreadableStore('shape');
  }
  return parsed as Store;
}

// conf 15 reports a wrong key or a damaged encrypted file with exactly this message.
function isDecryptionFailure(error: unknown): boolean {
  return error instanceof Error && error.message === 'Failed to decrypt config data.';
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function acquireLockFile(
  lockfile: ProperLockfile,
  lockPath: string,
  options: {
    deadline: number;
    signal: AbortSignal | undefined;
    staleMs: number;
    compromised: { error?: Error };
    timedOut: () => LatchkeyError;
    prepare: () => Promise<void>;
  },
): Promise<Unlock> {
  const { deadline, signal, staleMs, compromised } = options;
  for (;;) {
    throwIfAborted(signal);
    try {
      const unlock = await lockfile.lock(lockPath, {
        // proper-lockfile keys its bookkeeping by this path, so it must differ per lock.
        lockfilePath: lockPath,
        realpath: false,
        stale: staleMs,
        update: staleMs / 2,
        retries: 0,
        // The default throws from a timer and would crash the host process.
        onCompromised: (error) => {
          compromised.error = error;
        },
      });
      if (signal?.aborted) {
        await unlock().catch(() => {});
        throw cancelledError(signal);
      }
      return unlock;
    } catch (error) {
      if (error instanceof LatchkeyError) throw error;
      const code = errnoCode(error);
      if (code === 'ENOENT') {
        // The directory holding the lock file disappeared: create it again and retry.
        await options.prepare();
      } else if (code !== 'ELOCKED') {
        throw ioError(error, `create the lock file ${lockPath}`);
      }
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw options.timedOut();
    await sleep(Math.min(remaining, 20 + Math.random() * 40), signal).catch(() => {
      throw cancelledError(signal);
    });
  }
}

/** The configuration directory conf would pick for project `latchkey` without a suffix. */
function defaultDirectory(): string {
  const home = homedir();
  if (process.platform === 'darwin') return join(home, 'Library', 'Preferences', PROJECT_NAME);
  if (process.platform === 'win32') {
    return join(process.env.APPDATA || join(home, 'AppData', 'Roaming'), PROJECT_NAME, 'Config');
  }
  // The XDG base directory specification says to ignore relative paths.
  const xdg = process.env.XDG_CONFIG_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.config'), PROJECT_NAME);
}

async function ensurePrivateDirectory(directory: string): Promise<void> {
  let created: string | undefined;
  try {
    created = await mkdir(directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw ioError(error, `create the directory ${directory}`);
  }
  // The umask may have narrowed the mode further; make it exactly 0700.
  if (created !== undefined && process.platform !== 'win32') {
    try {
      await chmod(directory, 0o700);
    } catch (error) {
      throw ioError(error, `restrict the permissions of the directory ${directory}`);
    }
  }
}

// Atomic writes already create the file 0600; this covers conf's non-atomic fallbacks
// (Snap packages, EXDEV), which keep an existing file's wider mode.
async function tightenFileMode(filePath: string): Promise<void> {
  if (process.platform === 'win32') return;
  try {
    const { mode } = await stat(filePath);
    if ((mode & 0o077) !== 0) await chmod(filePath, 0o600);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw ioError(error, `restrict the permissions of the credential store file ${filePath}`);
  }
}

function ioError(error: unknown, action: string): LatchkeyError {
  if (error instanceof LatchkeyError) return error;
  const code = errnoCode(error);
  return new LatchkeyError(
    'STORE_IO',
    `Could not ${action} (${code ?? 'unexpected error'}). ${ioHint(code)}`,
    { cause: error },
  );
}

function ioHint(code: string | undefined): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'Check that this user may read and write it and its directory, or choose another directory.';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'The disk is full: free some space and retry.';
    case 'EROFS':
      return 'The file system is read-only: choose a writable directory for the credential store.';
    case 'ENOTDIR':
    case 'EEXIST':
    case 'EISDIR':
      return 'Something of the wrong type (a file instead of a directory, or the reverse) is in the way: move it or choose another directory.';
    default:
      return 'Check the path and its permissions, then retry.';
  }
}

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new TypeError('A credential store key must be a string');
}

// A snapshot taken at call time: later changes by the caller never reach the file.
function jsonCopy(value: unknown): JsonObject {
  if (!isJsonObject(value)) throw new TypeError('A credential store value must be a JSON object');
  const copy: unknown = JSON.parse(JSON.stringify(value));
  if (!isJsonObject(copy)) throw new TypeError('A credential store value must be a JSON object');
  return copy as JsonObject;
}

function checkDirectory(directory: unknown): string {
  if (typeof directory !== 'string' || directory === '') {
    throw new TypeError('fileStore() option `directory` must be a non-empty path');
  }
  return directory;
}

function checkName(name: unknown): string {
  if (
    typeof name !== 'string' ||
    name === '' ||
    name === '.' ||
    name === '..' ||
    /[/\\\0]/.test(name)
  ) {
    throw new TypeError(
      'fileStore() option `name` must be a plain file name without extension or slashes, like "credentials"',
    );
  }
  return name;
}

function checkEncryptionKey(key: unknown): string | Uint8Array | undefined {
  if (key === undefined) return undefined;
  // conf silently stores in clear text under an empty key.
  if (typeof key === 'string' && key !== '') return key;
  if (key instanceof Uint8Array && key.length > 0) return Uint8Array.from(key);
  throw new TypeError(
    'fileStore() option `encryptionKey` must be a non-empty string or Uint8Array',
  );
}

function checkStale(staleMs: unknown): number {
  if (typeof staleMs !== 'number' || !Number.isFinite(staleMs) || staleMs <= 0) {
    throw new TypeError(
      'fileStore() option `lockStaleMs` must be a positive number of milliseconds',
    );
  }
  return staleMs;
}
