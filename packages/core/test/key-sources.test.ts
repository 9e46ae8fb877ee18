// Data keys kept outside the store's folder: the OS keychain through keychainKey() (a
// real kernel keyring on Linux, and a Secret Service that cannot be reached), and
// Electron's safeStorage through safeStorageKey().
import { execFile, execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fileStore,
  isLatchkeyError,
  keychainKey,
  type SafeStorage,
  safeStorageKey,
} from '../src/index.js';
import { credentialStoreContract } from './store-contract.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SESSION_KEYRING = fileURLToPath(new URL('./fixtures/session-keyring.py', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/keychain-child.ts', import.meta.url));
const CANARY = 'CANARY-keychain-5e1f0c';

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-keys-'));
  temps.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'pass']);
    return true;
  } catch {
    return false;
  }
})();

/**
 * A stand-in for Electron's safeStorage (Electron itself cannot be installed here): it
 * encrypts with a key of its own, as the OS keychain would hold it.
 */
function standInSafeStorage(overrides: Partial<SafeStorage> = {}): SafeStorage & {
  calls: string[];
} {
  const key = randomBytes(32);
  const calls: string[] = [];
  return {
    calls,
    isEncryptionAvailable: () => true,
    getSelectedStorageBackend: () => 'gnome_libsecret',
    encryptString(plainText) {
      calls.push('encrypt');
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const data = Buffer.concat([cipher.update(plainText, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), data]);
    },
    decryptString(encrypted) {
      calls.push('decrypt');
      const decipher = createDecipheriv('aes-256-gcm', key, encrypted.subarray(0, 12));
      decipher.setAuthTag(encrypted.subarray(12, 28));
      return Buffer.concat([decipher.update(encrypted.subarray(28)), decipher.final()]).toString(
        'utf8',
      );
    },
    ...overrides,
  };
}

credentialStoreContract('fileStore (data key from safeStorage)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-'));
  return {
    store: fileStore({ directory: dir, encryptionKey: safeStorageKey(standInSafeStorage()) }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

/**
 * Runs the keychain child in a kernel session keyring of its own (refusing its owner
 * with `refuse`), and returns what it printed.
 */
function inSessionKeyring(args: string[], options: { refuse?: boolean } = {}): Promise<string> {
  const keyring = options.refuse ? [SESSION_KEYRING, '--refuse'] : [SESSION_KEYRING];
  return new Promise<string>((resolve, reject) =>
    execFile(
      'python3',
      [...keyring, process.execPath, '--import', 'tsx', CHILD, ...args],
      { cwd: REPO_ROOT, timeout: 60_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(stderr || String(error))) : resolve(stdout),
    ),
  );
}

describe('keychainKey', () => {
  it.runIf(process.platform === 'linux' && hasPython)(
    'keeps the data key in a real kernel keyring (a session keyring of its own, as this user)',
    async () => {
      const directory = await tempDir();
      const out = await inSessionKeyring([directory, CANARY]);
      const seen = JSON.parse(out.trim()) as {
        read: unknown;
        keyLength: number;
        files: string[];
        rawHasCanary: boolean;
      };
      // A second store object read what the first wrote, with the key from the keyring.
      expect(seen.read).toEqual({ accessToken: CANARY });
      expect(seen.keyLength).toBe(32);
      expect(seen.rawHasCanary).toBe(false);
      // Nothing beside the store holds the key: no salt, no key file.
      expect(seen.files.filter((f) => f.startsWith('.'))).toEqual([]);
    },
  );

  it.runIf(process.platform === 'linux' && hasPython)(
    'passes the store contract with its data key in a real kernel keyring',
    async () => {
      const directory = await tempDir();
      const out = await inSessionKeyring([directory, CANARY, 'contract']);
      const seen = JSON.parse(out.trim()) as { passed: number; failures: string[] };
      expect(seen.failures).toEqual([]);
      expect(seen.passed).toBeGreaterThan(10);
    },
    90_000,
  );

  it.runIf(process.platform === 'linux' && hasPython)(
    'fails with KEYCHAIN_UNAVAILABLE when a real kernel keyring refuses, and writes nothing',
    async () => {
      const directory = await tempDir();
      const out = await inSessionKeyring([directory, CANARY, 'refused'], { refuse: true });
      const seen = JSON.parse(out.trim()) as { code: string; message: string; files: string[] };
      expect(seen.code).toBe('KEYCHAIN_UNAVAILABLE');
      expect(seen.message).toMatch(/kernel keyring/);
      expect(seen.message).toMatch(/AccessDenied|denied/i);
      expect(seen.message).not.toContain(CANARY);
      expect(seen.files).toEqual([]);
    },
  );

  it('fails with KEYCHAIN_UNAVAILABLE where no Secret Service can be reached, and writes nothing', async () => {
    const directory = await tempDir();
    const saved = process.env.DBUS_SESSION_BUS_ADDRESS;
    process.env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${join(directory, 'no-bus')}`;
    try {
      const store = fileStore({ directory, encryptionKey: keychainKey() });
      const error = await store.set('k', { accessToken: CANARY }).catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'KEYCHAIN_UNAVAILABLE'), String(error)).toBe(true);
      const message = (error as Error).message;
      expect(message).toMatch(/Secret Service|Keychain|Credential Manager/);
      expect(message).toMatch(/encryptionKey/);
      expect(message).toMatch(/never falls back/);
      expect(message).not.toContain(CANARY);
      // Nothing was written: the value is not on disk in any form.
      expect(await readdir(store.path)).toEqual([]);
      // Reading fails the same way, instead of finding an empty store.
      const read = await store.get('k').catch((e: unknown) => e);
      expect(isLatchkeyError(read, 'KEYCHAIN_UNAVAILABLE')).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
      else process.env.DBUS_SESSION_BUS_ADDRESS = saved;
    }
  });

  it('rejects options that are not a keychain', () => {
    expect(() => keychainKey({ linuxStore: 'file' as never })).toThrow(TypeError);
    expect(() => keychainKey(null as never)).toThrow(TypeError);
  });
});

describe('safeStorageKey', () => {
  it('keeps the data key sealed by safeStorage beside the store, asked once per store', async () => {
    const directory = await tempDir();
    const safeStorage = standInSafeStorage();
    const store = fileStore({ directory, encryptionKey: safeStorageKey(safeStorage) });
    await store.set('k', { accessToken: CANARY });
    await store.get('k');
    await store.set('k', { accessToken: CANARY });
    expect(safeStorage.calls).toEqual(['encrypt', 'decrypt']);
    const sealed = await readFile(join(store.path, '.data-key'));
    expect(sealed.length).toBeGreaterThan(32);
    // Another store object with the same safeStorage reads it back.
    const again = fileStore({ directory, encryptionKey: safeStorageKey(safeStorage) });
    expect(await again.get('k')).toEqual({ accessToken: CANARY });
    expect((await readFile(join(store.path, 'k.json'), 'utf8')).includes(CANARY)).toBe(false);
  });

  it('fails with KEYCHAIN_UNAVAILABLE before the app is ready, or with Linux basic_text', async () => {
    for (const overrides of [
      { isEncryptionAvailable: () => false },
      { getSelectedStorageBackend: () => 'basic_text' },
    ]) {
      const directory = await tempDir();
      const store = fileStore({
        directory,
        encryptionKey: safeStorageKey(standInSafeStorage(overrides)),
      });
      const error = await store.set('k', { v: 1 }).catch((e: unknown) => e);
      expect(isLatchkeyError(error, 'KEYCHAIN_UNAVAILABLE'), String(error)).toBe(true);
      expect(await readdir(store.path)).toEqual([]);
    }
  });

  it('fails with STORE_CORRUPT when the sealed key opens no more (another machine, a reset keychain)', async () => {
    const directory = await tempDir();
    const store = fileStore({ directory, encryptionKey: safeStorageKey(standInSafeStorage()) });
    await store.set('k', { accessToken: CANARY });
    const elsewhere = fileStore({
      directory,
      encryptionKey: safeStorageKey(standInSafeStorage()),
    });
    const error = await elsewhere.get('k').catch((e: unknown) => e);
    expect(isLatchkeyError(error, 'STORE_CORRUPT'), String(error)).toBe(true);
    expect((error as Error).message).toContain('.data-key');
    await writeFile(join(store.path, '.data-key'), 'damaged');
    const damaged = fileStore({ directory, encryptionKey: safeStorageKey(standInSafeStorage()) });
    expect(isLatchkeyError(await damaged.get('k').catch((e: unknown) => e), 'STORE_CORRUPT')).toBe(
      true,
    );
  });

  it("takes Electron's safeStorage module only", () => {
    expect(() => safeStorageKey({} as never)).toThrow(TypeError);
  });
});
