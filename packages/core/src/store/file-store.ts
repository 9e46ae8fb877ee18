import { createHash, randomBytes } from 'node:crypto';
import { rename as renameCallback } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { LatchkeyError } from '../errors.js';
import { sleep } from '../util/abort.js';
import { type DataKey, deriveKey, isSealed, openLegacyFile, seal, unseal } from './file-crypto.js';
import { acquireFileLock } from './file-lock.js';
import { decodeSegment, encodeSegment, KEY_FILE_EXTENSION, keyPath } from './file-names.js';
import { checkDataKey, isKeySource, type KeySource } from './key-source.js';
import {
  createKeyedMutex,
  DEFAULT_LOCK_TIMEOUT_MS,
  formatSeconds,
  type LockOptionsWithCheck,
  resolveLockTimeout,
  SETTLED_WHILE_WAITING,
  throwIfAborted,
} from './locks.js';
import {
  createOnce,
  errnoCode,
  processRuns,
  TEMP_PREFIX,
  tempPath,
  writePrivateFile,
} from './private-files.js';
import type { CredentialStore, JsonObject } from './types.js';

/** Options of {@link fileStore}. */
export interface FileStoreOptions {
  /**
   * The directory that holds the store. Default: the user's configuration directory for
   * `latchkey` — `$XDG_CONFIG_HOME/latchkey` or `~/.config/latchkey` on Linux,
   * `~/Library/Preferences/latchkey` on macOS, `%APPDATA%\latchkey\Config` on Windows.
   * It is created with mode 0700 when missing.
   */
  directory?: string;
  /** The name of the store's folder in `directory`. Default `credentials`. */
  name?: string;
  /**
   * Encrypts every value at rest with AES-256-GCM: under a key derived from this secret
   * (scrypt, once per process), or under the data key a {@link KeySource} keeps, such as
   * the OS keychain ({@link keychainKey}) or Electron's `safeStorage`
   * ({@link safeStorageKey}). Reading a value with another key fails with
   * `STORE_CORRUPT`.
   */
  encryptionKey?: string | Uint8Array | KeySource;
  /**
   * After how long the lock file of a holder on another machine (a home directory
   * shared over the network), whose holder stopped touching it, is taken over, in
   * milliseconds. Default 10 000; values under 2 000 count as 2 000. A holder touches
   * its lock file every `lockStaleMs / 2` (at least every second). The lock of a
   * process of this machine that has ended is taken over at once.
   */
  lockStaleMs?: number;
}

/** A {@link CredentialStore} kept in files, with the store's location. */
export type FileStore = CredentialStore & {
  /** The absolute path of the store's folder: one file per key. */
  readonly path: string;
};

const PROJECT_NAME = 'latchkey';
const DEFAULT_NAME = 'credentials';
const DEFAULT_STALE_MS = 10_000;
// Holders on another machine are judged by their lock file's age: never under 2 s.
// Callback-style with a promise on top: quicker than fs/promises' rename (see writePrivateFile).
const renameFile = promisify(renameCallback);
const MIN_STALE_MS = 2_000;
// The format of a key's file.
const FILE_VERSION = 1;
// Earlier releases' single-file store kept this top-level key for itself.
const LEGACY_INTERNAL_KEY = '__internal__';
const SALT_FILE = '.salt';

// In-process exclusion for every lock file, keyed by its absolute path, shared by all
// file stores of this process: lock files alone would make them wait on each other.
const processLocks = createKeyedMutex();

/**
 * Creates a credential store kept in files, one per key, shared safely between
 * processes.
 *
 * The store is a folder `<name>` (mode 0700) in `options.directory`. Each key is a file
 * (mode 0600) under it, named after the key (see `file-names.ts`; a provider's logins
 * share one folder), written to a temporary file and renamed into place, so a reader
 * never sees half a value and a writer killed midway loses nothing but its own write.
 * No operation reads or writes more than the files it concerns, so its cost does not
 * grow with the number of stored logins. Reading a value, and the calls of a write that
 * can wait for the disk, run off the event loop; lock files (a few hundred bytes) are
 * read and written with synchronous calls of a few microseconds each. Every read goes
 * to the file, so changes made by other processes are seen at once. With
 * `options.encryptionKey`, each value is encrypted (AES-256-GCM, bound to its key).
 * `lock` holds a lock file per key under `<name>.locks/`. A file that cannot be read as
 * a value fails with `STORE_CORRUPT` and is never modified.
 *
 * The single file `<name>.json` of earlier releases is moved into the folder on first
 * use, key by key, and removed last, so a process killed during the move loses nothing:
 * the next one finishes it.
 */
export function fileStore(options: FileStoreOptions = {}): FileStore {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('fileStore() options must be an object');
  }
  const directory = resolve(
    options.directory === undefined ? defaultDirectory() : checkDirectory(options.directory),
  );
  const name = checkName(options.name ?? DEFAULT_NAME);
  const secret = checkEncryptionKey(options.encryptionKey);
  const staleMs = Math.max(MIN_STALE_MS, checkStale(options.lockStaleMs ?? DEFAULT_STALE_MS));

  const root = join(directory, name);
  const locksDirectory = join(directory, `${name}.locks`);
  const legacyFile = join(directory, `${name}.json`);
  const fileOf = (key: string) => join(root, ...keyPath(key));
  const createdDirectories = new Set<string>();
  /** Makes a folder of the store (0700) unless this store made it already. */
  const madeOnce = async (folder: string): Promise<void> => {
    if (createdDirectories.has(folder)) return;
    await privateDirectory(folder);
    createdDirectories.add(folder);
  };

  const withFileLock = async <T>(
    lockPath: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    fn: () => Promise<T>,
    settled?: () => Promise<T | undefined>,
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
      const lockDirectory = dirname(lockPath);
      const prepare = () => privateDirectory(lockDirectory);
      // Made once per store; a folder removed since is made again when a create fails.
      await madeOnce(lockDirectory);
      const held = await acquireFileLock(lockPath, {
        deadline,
        signal,
        staleMs,
        timedOut,
        prepare,
        settled,
      }).catch((error: unknown) => {
        throw ioError(error, `take the lock file ${lockPath}`);
      });
      if ('settled' in held) return held.settled as T;
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

  // The data key: from the host's key source (under a lock, so that of two first uses
  // one key is made), or derived once per process from its secret and the store's salt.
  let dataKey: Promise<DataKey | undefined> | undefined;
  const key = (): Promise<DataKey | undefined> => {
    if (secret === undefined) return Promise.resolve(undefined);
    dataKey ??= isKeySource(secret)
      ? privateDirectory(root).then(() =>
          withFileLock(
            join(locksDirectory, 'data-key.lock'),
            DEFAULT_LOCK_TIMEOUT_MS,
            undefined,
            async () => Buffer.from(checkDataKey(secret, await secret.dataKey({ path: root }))),
          ),
        )
      : storeSalt(root).then((salt) => deriveKey(secret, salt));
    dataKey.catch(() => {
      dataKey = undefined;
    });
    return dataKey;
  };

  const corrupt = (path: string, storeKey: string, problem: string): LatchkeyError =>
    new LatchkeyError(
      'STORE_CORRUPT',
      `The credential store file ${path} (key "${storeKey}") ${problem}. It was left untouched. Open the store with the settings it was written with, or remove the file to drop that entry and sign in again.`,
    );

  const encode = async (storeKey: string, value: JsonObject): Promise<string> => {
    const k = await key();
    const body = k
      ? { ...seal(k, JSON.stringify(value), storeKey) }
      : { value: value as JsonObject };
    return JSON.stringify({ v: FILE_VERSION, key: storeKey, ...body }, undefined, '\t');
  };

  const decode = async (
    path: string,
    storeKey: string | undefined,
    text: string,
  ): Promise<{ key: string; value: JsonObject }> => {
    const shown = storeKey ?? path;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw corrupt(path, shown, 'is not valid JSON');
    }
    if (
      !isJsonObject(parsed) ||
      parsed.v !== FILE_VERSION ||
      typeof parsed.key !== 'string' ||
      (storeKey !== undefined && parsed.key !== storeKey)
    ) {
      throw corrupt(path, shown, 'is not a value of this store');
    }
    const k = await key();
    if (isSealed(parsed)) {
      if (!k) {
        throw corrupt(path, parsed.key, 'is encrypted: open the store with its encryptionKey');
      }
      let plain: string;
      try {
        plain = unseal(k, parsed, parsed.key);
      } catch {
        throw corrupt(
          path,
          parsed.key,
          'cannot be decrypted with the given encryptionKey (a wrong key, or a damaged file)',
        );
      }
      const value = JSON.parse(plain) as unknown;
      if (!isJsonObject(value)) throw corrupt(path, parsed.key, 'does not hold a JSON object');
      return { key: parsed.key, value: value as JsonObject };
    }
    if (k) {
      throw corrupt(
        path,
        parsed.key,
        'was written without encryption, but an encryptionKey is given',
      );
    }
    if (!isJsonObject(parsed.value)) {
      throw corrupt(path, parsed.key, 'does not hold a JSON object');
    }
    return { key: parsed.key, value: parsed.value as JsonObject };
  };

  /** Writes a key's file: a temporary file in the store's folder, synced, renamed into place. */
  const write = async (storeKey: string, value: JsonObject): Promise<void> => {
    const target = fileOf(storeKey);
    const text = await encode(storeKey, value);
    await madeOnce(dirname(target));
    const temp = tempPath(root);
    try {
      await writePrivateFile(temp, text);
      await renameOver(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => {});
      if (errnoCode(error) === 'ENOENT') {
        // The folder was removed meanwhile: make it again on the next write.
        createdDirectories.clear();
      }
      throw ioError(error, `write the credential store file ${target}`);
    }
  };

  /** Moves the single file of earlier releases into the folder, one key at a time. */
  const migrate = async (): Promise<void> => {
    if (!(await exists(legacyFile))) return;
    await withFileLock(`${legacyFile}.lock`, DEFAULT_LOCK_TIMEOUT_MS, undefined, async () => {
      let data: Buffer;
      try {
        data = await readFile(legacyFile);
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return; // Another process finished it.
        throw ioError(error, `read the credential store file ${legacyFile}`);
      }
      const entries = parseLegacy(
        data,
        isKeySource(secret) ? undefined : secret,
        secret !== undefined,
      );
      if (entries === undefined) {
        throw new LatchkeyError(
          'STORE_CORRUPT',
          `The credential store file ${legacyFile} of an earlier release ${secret === undefined ? 'is not a credential store (if it was written with an encryptionKey, give the same key)' : 'cannot be read with the given encryptionKey'}. It was left untouched. Open the store with the settings it was written with, or move the file aside (for example rename it to ${name}.json.bad) to start with an empty store and sign in again.`,
        );
      }
      for (const [storeKey, value] of Object.entries(entries)) {
        // A key already in the folder was written after an interrupted move: it is newer.
        if (!(await exists(fileOf(storeKey)))) await write(storeKey, value);
      }
      try {
        await unlink(legacyFile);
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') {
          throw ioError(error, `remove the migrated credential store file ${legacyFile}`);
        }
      }
    });
  };

  // Once per store object: the folder, what crashed writers left, the earlier format.
  let opened: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    opened ??= (async () => {
      await privateDirectory(directory, { narrow: options.directory === undefined });
      await privateDirectory(root);
      await sweepTemporaryFiles(root, directory, name);
      await migrate();
      // A key that cannot be had fails the first call, not the write after a sign-in.
      await key();
    })();
    opened.catch(() => {
      opened = undefined;
    });
    return opened;
  };

  const read = async (path: string, storeKey: string | undefined) => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw ioError(error, `read the credential store file ${path}`);
    }
    return decode(path, storeKey, text);
  };

  /** Every key under the folder `dir`, whose path from the root is `segments` (undefined where a segment is a digest). */
  const keysUnder = async (dir: string, segments: (string | undefined)[]): Promise<string[]> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw ioError(error, `read the credential store folder ${dir}`);
    }
    const keys: string[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        keys.push(...(await keysUnder(path, [...segments, decodeSegment(entry.name)])));
      } else if (entry.isFile() && entry.name.endsWith(KEY_FILE_EXTENSION)) {
        const last = decodeSegment(entry.name.slice(0, -KEY_FILE_EXTENSION.length));
        const all = [...segments, last];
        if (all.every((s) => s !== undefined)) keys.push(all.join('/'));
        else {
          // A segment too long to be a name: the file says which key it is.
          const found = await read(path, undefined);
          if (found) keys.push(found.key);
        }
      }
    }
    return keys;
  };

  const store = {
    get path(): string {
      return root;
    },

    async get(storeKey: string): Promise<JsonObject | undefined> {
      assertKey(storeKey);
      await ready();
      // Parsed afresh from the file on every call, so never shared with anyone.
      return (await read(fileOf(storeKey), storeKey))?.value;
    },

    async set(storeKey: string, value: JsonObject): Promise<void> {
      assertKey(storeKey);
      const copy = jsonCopy(value);
      await ready();
      await write(storeKey, copy);
    },

    async delete(storeKey: string): Promise<void> {
      assertKey(storeKey);
      await ready();
      try {
        await unlink(fileOf(storeKey));
      } catch (error) {
        const code = errnoCode(error);
        if (code !== 'ENOENT' && code !== 'ENOTDIR') {
          throw ioError(error, `remove the credential store file ${fileOf(storeKey)}`);
        }
      }
    },

    async list(prefix?: string): Promise<string[]> {
      if (prefix !== undefined && typeof prefix !== 'string') {
        throw new TypeError('The prefix given to list() must be a string');
      }
      const start = prefix ?? '';
      await ready();
      // Only the folder the prefix names in full is read: a provider's logins, say.
      const whole = start.split('/').slice(0, -1);
      const keys = await keysUnder(join(root, ...whole.map(encodeSegment)), whole);
      return keys.filter((k) => k.startsWith(start)).sort();
    },

    async lock<T>(
      storeKey: string,
      fn: () => Promise<T>,
      lockOptions?: LockOptionsWithCheck<T>,
    ): Promise<T> {
      assertKey(storeKey);
      if (typeof fn !== 'function') throw new TypeError('lock() needs a function to run');
      const timeoutMs = resolveLockTimeout(lockOptions);
      const signal = lockOptions?.signal;
      throwIfAborted(signal);
      const digest = createHash('sha256').update(storeKey, 'utf8').digest('hex').slice(0, 32);
      return withFileLock(
        join(locksDirectory, `${digest}.lock`),
        timeoutMs,
        signal,
        fn,
        lockOptions?.[SETTLED_WHILE_WAITING],
      );
    },
  } satisfies FileStore;
  return store;
}

/** The values of a single-file store of earlier releases, or `undefined` when it is none. */
function parseLegacy(
  data: Buffer,
  secret: string | Uint8Array | undefined,
  encrypted: boolean,
): Record<string, JsonObject> | undefined {
  // Earlier releases encrypted with a secret only: with a key source, the file is plain.
  const text =
    secret === undefined || !encrypted ? data.toString('utf8') : openLegacyFile(data, secret);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isJsonObject(parsed)) return undefined;
  const out: Record<string, JsonObject> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (k === LEGACY_INTERNAL_KEY) continue;
    if (!isJsonObject(v)) return undefined;
    out[k] = v as JsonObject;
  }
  return out;
}

/**
 * The store's salt for deriving its data key: 16 random bytes in `<root>/.salt`, made
 * once (written aside and linked into place, so two processes agree on one).
 */
async function storeSalt(root: string): Promise<Buffer> {
  const path = join(root, SALT_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const salt = await readFile(path);
      if (salt.length === 16) return salt;
      throw new LatchkeyError(
        'STORE_CORRUPT',
        `The credential store's salt file ${path} is damaged, so no value can be decrypted. Remove the store's folder ${root} to start with an empty store, and sign in again.`,
      );
    } catch (error) {
      if (error instanceof LatchkeyError) throw error;
      if (errnoCode(error) !== 'ENOENT') throw ioError(error, `read ${path}`);
    }
    try {
      await createOnce(root, path, randomBytes(16));
    } catch (error) {
      throw ioError(error, `create ${path}`);
    }
  }
  throw new LatchkeyError('STORE_IO', `Could not create the salt file ${path}. Retry.`);
}

/**
 * Removes the temporary files of writers that ended before renaming them into place
 * (in the folder: `.tmp-<pid>-…` of a process that no longer runs), and those of the
 * single-file store of earlier releases (`<name>.json.tmp-…`, a minute old), so no
 * copy of a credential outlives a crash past the next opening of the store.
 */
async function sweepTemporaryFiles(root: string, directory: string, name: string) {
  const remove = async (path: string) => {
    await unlink(path).catch(() => {});
  };
  for (const entry of await readdir(root).catch(() => [] as string[])) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const pid = Number(entry.slice(TEMP_PREFIX.length).split('-')[0]);
    if (!Number.isInteger(pid) || !processRuns(pid)) await remove(join(root, entry));
  }
  for (const entry of await readdir(directory).catch(() => [] as string[])) {
    if (!entry.startsWith(`${name}.json.tmp-`)) continue;
    const path = join(directory, entry);
    const info = await stat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > 60_000) await remove(path);
  }
}

/** Renames over an existing file, retrying where Windows refuses while another process reads it. */
async function renameOver(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await renameFile(from, to);
      return;
    } catch (error) {
      const code = errnoCode(error);
      if (attempt >= 10 || (code !== 'EPERM' && code !== 'EBUSY' && code !== 'EACCES')) throw error;
      await sleep(5 * (attempt + 1));
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw ioError(error, `read ${path}`);
  }
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The configuration directory for `latchkey` on this platform. */
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

/**
 * Makes `directory` (and its parents) with mode 0700 when missing. An existing one is
 * narrowed to 0700 when `narrow` (the store's own folders), else left as it is.
 */
async function privateDirectory(
  directory: string,
  options: { narrow: boolean } = { narrow: true },
): Promise<void> {
  let created: string | undefined;
  try {
    created = await mkdir(directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw ioError(error, `create the directory ${directory}`);
  }
  if (process.platform === 'win32' || (created === undefined && !options.narrow)) return;
  try {
    const { mode } = await stat(directory);
    if ((mode & 0o077) !== 0) await chmod(directory, 0o700);
  } catch (error) {
    throw ioError(error, `restrict the permissions of the directory ${directory}`);
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

function checkEncryptionKey(key: unknown): string | Uint8Array | KeySource | undefined {
  if (key === undefined) return undefined;
  // An empty key would protect nothing.
  if (typeof key === 'string' && key !== '') return key;
  if (key instanceof Uint8Array && key.length > 0) return Uint8Array.from(key);
  if (isKeySource(key)) return key;
  throw new TypeError(
    'fileStore() option `encryptionKey` must be a non-empty string or Uint8Array, or a key source such as keychainKey()',
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
