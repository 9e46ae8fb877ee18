import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type Conf from 'conf';
import { LatchkeyError } from '../errors.js';
import { acquireFileLock } from './file-lock.js';
import {
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
   * After how long the lock file of a holder on another machine (a home directory
   * shared over the network), whose holder stopped touching it, is taken over, in
   * milliseconds. Default 10 000; values under 2 000 count as 2 000. A holder touches
   * its lock file every `lockStaleMs / 2` (at least every second). The lock of a
   * process of this machine that has ended is taken over at once.
   */
  lockStaleMs?: number;
}

/** A {@link CredentialStore} kept in a JSON file, with the file's location. */
export type FileStore = CredentialStore & {
  /** The absolute path of the store file. */
  readonly path: string;
};

type Store = Record<string, JsonObject>;
type ConfConstructor = typeof import('conf').default;

const PROJECT_NAME = 'latchkey';
const DEFAULT_NAME = 'credentials';
const DEFAULT_STALE_MS = 10_000;
// Holders on another machine are judged by their lock file's age: never under 2 s.
const MIN_STALE_MS = 2_000;
// conf keeps its migration data under this top-level key and copies it from the file
// into every write that lacks it (see writeAll).
const CONF_INTERNAL_KEY = '__internal__';

// In-process exclusion for every lock file, keyed by its absolute path, shared by all
// file stores of this process: lock files alone would make them wait on each other.
const processLocks = createKeyedMutex();

let confModule: Promise<typeof import('conf')> | undefined;

// conf loads on first use only, so importing Latchkey stays light.
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
        `Timed out after ${formatSeconds(timeoutMs)} waiting for the lock file ${lockPath}: another process, or another operation in this process, holds it. The lock of a process that has ended is taken over at once (one on another machine sharing this directory once it is ${formatSeconds(staleMs)} old); if this keeps happening, look for another process using the same credential store, or wait longer (timeoutMs).`,
      );
    const releaseInProcess = await processLocks.acquire(lockPath, {
      timeoutMs,
      signal,
      onTimeout: timedOut,
    });
    try {
      await prepare();
      const held = await acquireFileLock(lockPath, {
        deadline,
        signal,
        staleMs,
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
        await held.release();
      } catch {
        // Its directory vanished: there is nothing left to remove.
      }
      if (held.lost !== undefined) {
        throw new LatchkeyError(
          'STORE_LOCKED',
          `The lock file ${lockPath} was lost while it was held: it was removed or replaced, so another process may have worked at the same time. Retry the operation; if it keeps happening, look for a program that removes files in the store's directory, or for a clock or sleeping machine that makes another machine sharing this directory take the lock over (lockStaleMs).`,
          { cause: held.lost },
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
