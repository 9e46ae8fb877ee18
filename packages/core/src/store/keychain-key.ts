import { randomBytes } from 'node:crypto';
import { LatchkeyError } from '../errors.js';
import type { KeySource } from './key-source.js';

/** Options of {@link keychainKey}. */
export interface KeychainKeyOptions {
  /** The keychain entry's service. Default `latchkey`. */
  service?: string;
  /** The keychain entry's account. Default: the store's path, so each store has its own key. */
  account?: string;
  /**
   * Which Linux keychain holds the key. Default `secret-service` (GNOME Keyring, KWallet,
   * KeePassXC), which survives a reboot. `keyutils`, the kernel keyring, does not: its
   * keys are gone when the machine restarts (and with them every login of the store),
   * so it is only taken when asked for by name, for short-lived machines and tests.
   * Ignored on macOS (Keychain) and Windows (Credential Manager).
   */
  linuxStore?: 'secret-service' | 'keyutils';
}

type KeyringModule = typeof import('@napi-rs/keyring');

let keyring: Promise<KeyringModule> | undefined;

function where(options: KeychainKeyOptions): string {
  if (process.platform === 'darwin') return 'the macOS Keychain';
  if (process.platform === 'win32') return 'the Windows Credential Manager';
  return options.linuxStore === 'keyutils'
    ? 'the Linux kernel keyring'
    : 'the Secret Service keychain (GNOME Keyring, KWallet)';
}

function unavailable(name: string, reason: string): LatchkeyError {
  return new LatchkeyError(
    'KEYCHAIN_UNAVAILABLE',
    `The credential store's data key could not be kept in ${name}: ${reason}. Nothing was stored. Where no keychain can be reached (a server without a desktop session, an SSH login), pass fileStore() an encryptionKey from a secret your service manager provides, or leave the store unencrypted (its files are readable by this user only); Latchkey never falls back to another place by itself.`,
  );
}

/**
 * A {@link KeySource} that keeps the store's data key (32 random bytes, made on first
 * use) in the OS keychain, through the optional dependency `@napi-rs/keyring`: the
 * macOS Keychain, the Windows Credential Manager, or on Linux the Secret Service (or,
 * asked for by name, the kernel keyring). The key never touches the disk beside the
 * store, so a copy of the store's folder alone does not open.
 *
 * Where the keychain cannot be reached (no `@napi-rs/keyring` for this platform, no
 * Secret Service on the session bus, a locked or refusing keychain), the store fails
 * with `KEYCHAIN_UNAVAILABLE` and a message that says what to do; it never falls back
 * to another place by itself.
 *
 * @example
 * ```ts
 * import { fileStore, keychainKey } from '@latchkey/core';
 *
 * const store = fileStore({ encryptionKey: keychainKey() });
 * ```
 */
export function keychainKey(options: KeychainKeyOptions = {}): KeySource {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('keychainKey() options must be an object');
  }
  const { linuxStore = 'secret-service' } = options;
  if (linuxStore !== 'secret-service' && linuxStore !== 'keyutils') {
    throw new TypeError('keychainKey() option `linuxStore` must be "secret-service" or "keyutils"');
  }
  const service = options.service ?? 'latchkey';
  const name = where(options);
  return Object.freeze({
    name,
    async dataKey(store: { readonly path: string }): Promise<Uint8Array> {
      keyring ??= import('@napi-rs/keyring').catch((error: unknown) => {
        keyring = undefined;
        throw error;
      });
      let module: KeyringModule;
      try {
        module = await keyring;
      } catch {
        throw unavailable(
          name,
          `the optional dependency @napi-rs/keyring is not installed for this platform (${process.platform}-${process.arch}); install it with npm install @napi-rs/keyring`,
        );
      }
      try {
        const entry = new module.AsyncEntry(service, options.account ?? store.path, {
          linux: { store: linuxStore },
        });
        const held = await entry.getSecret();
        if (held) return Uint8Array.from(held);
        await entry.setSecret(randomBytes(32));
        // Read back what the keychain kept, so every process uses the same key.
        const kept = await entry.getSecret();
        if (!kept) throw new Error('the key written could not be read back');
        return Uint8Array.from(kept);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw unavailable(name, message.slice(0, 300));
      }
    },
  });
}
