import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LatchkeyError } from '../errors.js';
import { createOnce, errnoCode } from './private-files.js';

/**
 * Where an encrypted {@link fileStore} gets its data key, instead of deriving one from
 * a secret: a random 32-byte key kept somewhere safer than the disk beside the store,
 * such as the OS keychain ({@link keychainKey}) or Electron's `safeStorage`
 * ({@link safeStorageKey}). Asked once per store object.
 */
export interface KeySource {
  /** What holds the key, for messages: `the macOS Keychain`, `Electron safeStorage`. */
  readonly name: string;
  /**
   * The data key of the store at `store.path`: read from where it is kept, or made
   * (32 random bytes) and kept there on first use. Rejects with a `LatchkeyError` that
   * says what to do when the key cannot be read or kept.
   */
  dataKey(store: { readonly path: string }): Promise<Uint8Array>;
}

/** Whether `value` is a {@link KeySource}. */
export function isKeySource(value: unknown): value is KeySource {
  const s = value as Partial<KeySource> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    !(s instanceof Uint8Array) &&
    typeof s.dataKey === 'function' &&
    typeof s.name === 'string'
  );
}

/** Checks a data key a source returned. */
export function checkDataKey(source: KeySource, key: unknown): Uint8Array {
  if (key instanceof Uint8Array && key.length === 32) return key;
  throw new LatchkeyError(
    'STORE_CORRUPT',
    `The data key that ${source.name} holds for this credential store is not 32 bytes, so the store cannot be opened. Remove that entry from ${source.name} to start with an empty store (the stored logins are then lost), and sign in again.`,
  );
}

/**
 * What {@link safeStorageKey} needs of Electron's `safeStorage` (its main-process module),
 * so this package does not depend on Electron.
 */
export interface SafeStorage {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only: which backend encrypts (`basic_text` means a fixed, public password). */
  getSelectedStorageBackend?(): string;
}

const DATA_KEY_FILE = '.data-key';

/**
 * A {@link KeySource} for Electron hosts: the store's data key (32 random bytes, made on
 * first use) is encrypted with Electron's `safeStorage` (the macOS Keychain, Windows
 * DPAPI, the Linux Secret Service) and kept as `.data-key` in the store's folder, so
 * the folder alone does not open anywhere else. Call it in the main process after the
 * app's `ready` event. Where `safeStorage` cannot encrypt, or on Linux encrypts with
 * its `basic_text` fallback (a password that is the same on every machine), the store
 * fails with `KEYCHAIN_UNAVAILABLE` instead of keeping a key that protects nothing.
 */
export function safeStorageKey(safeStorage: SafeStorage): KeySource {
  if (
    typeof safeStorage?.encryptString !== 'function' ||
    typeof safeStorage.decryptString !== 'function' ||
    typeof safeStorage.isEncryptionAvailable !== 'function'
  ) {
    throw new TypeError("safeStorageKey() takes Electron's safeStorage module");
  }
  const name = 'Electron safeStorage';
  const refuse = (reason: string) =>
    new LatchkeyError(
      'KEYCHAIN_UNAVAILABLE',
      `The credential store's data key could not be kept with ${name}: ${reason}. Nothing was stored. Create the store after the app's ready event; on Linux, a Secret Service keychain (GNOME Keyring, KWallet) must be running.`,
    );
  return Object.freeze({
    name,
    async dataKey(store: { readonly path: string }): Promise<Uint8Array> {
      if (!safeStorage.isEncryptionAvailable()) {
        throw refuse('safeStorage.isEncryptionAvailable() is false');
      }
      if (safeStorage.getSelectedStorageBackend?.() === 'basic_text') {
        throw refuse('on this Linux desktop it would encrypt with a fixed password (basic_text)');
      }
      const path = join(store.path, DATA_KEY_FILE);
      const read = async (): Promise<Uint8Array | undefined> => {
        let sealed: Buffer;
        try {
          sealed = await readFile(path);
        } catch (error) {
          if (errnoCode(error) === 'ENOENT') return undefined;
          throw error;
        }
        try {
          return Buffer.from(safeStorage.decryptString(sealed), 'base64');
        } catch {
          throw new LatchkeyError(
            'STORE_CORRUPT',
            `The data key in ${path} cannot be decrypted with ${name} (another user, another machine, or a reset keychain), so the store cannot be opened. Remove the store's folder ${store.path} to start with an empty store, and sign in again.`,
          );
        }
      };
      const held = await read();
      if (held) return held;
      // Written aside and linked into place: of two first uses, one key wins.
      await createOnce(
        store.path,
        path,
        safeStorage.encryptString(randomBytes(32).toString('base64')),
      );
      const kept = await read();
      if (!kept) throw refuse(`the key written to ${path} could not be read back`);
      return kept;
    },
  });
}
