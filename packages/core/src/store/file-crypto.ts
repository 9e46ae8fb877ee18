import {
  createCipheriv,
  createDecipheriv,
  createHash,
  pbkdf2Sync,
  randomBytes,
  scrypt,
} from 'node:crypto';

/** What an encrypted key file holds besides its key: AES-256-GCM, base64url. */
export interface Sealed {
  alg: 'A256GCM';
  iv: string;
  tag: string;
  data: string;
}

/** A 32-byte data key, derived once per process for each secret and salt. */
export type DataKey = Buffer;

// scrypt (RFC 7914) with N = 2^15, r = 8, p = 1: about 32 MiB and a few tens of
// milliseconds, paid once per process and store, not on every read.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const derived = new Map<string, Promise<DataKey>>();

/** Derives the store's data key from the host's secret and the store's salt, once per process. */
export function deriveKey(secret: string | Uint8Array, salt: Buffer): Promise<DataKey> {
  const id = createHash('sha256')
    .update(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret)
    .update(salt)
    .digest('hex');
  let key = derived.get(id);
  if (!key) {
    key = new Promise<DataKey>((resolve, reject) =>
      scrypt(secret, salt, 32, SCRYPT, (error, out) => (error ? reject(error) : resolve(out))),
    );
    key.catch(() => derived.delete(id));
    derived.set(id, key);
  }
  return key;
}

/** Encrypts `plaintext`, bound to `aad` (the store key, so a file moved to another name does not open). */
export function seal(key: DataKey, plaintext: string, aad: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return {
    alg: 'A256GCM',
    iv: iv.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
    data: data.toString('base64url'),
  };
}

/** Decrypts what {@link seal} made; throws on a wrong key or a damaged file. */
export function unseal(key: DataKey, sealed: Sealed, aad: string): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64url'));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64url'));
  return Buffer.concat([
    decipher.update(Buffer.from(sealed.data, 'base64url')),
    decipher.final(),
  ]).toString('utf8');
}

/** Whether `value` has the shape of {@link Sealed}. */
export function isSealed(value: unknown): value is Sealed {
  const s = value as Partial<Sealed> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    s.alg === 'A256GCM' &&
    typeof s.iv === 'string' &&
    typeof s.tag === 'string' &&
    typeof s.data === 'string'
  );
}

/**
 * Decrypts a single-file store written by earlier releases (through `conf`, AES-256-GCM):
 * a 16-byte IV, `:`, the ciphertext and a 16-byte tag, under a key derived with
 * PBKDF2-SHA512 (10,000 rounds) salted with the IV. Returns `undefined` when it does not
 * decrypt.
 */
export function openLegacyFile(data: Buffer, secret: string | Uint8Array): string | undefined {
  if (data.length < 16 + 1 + 16 || data[16] !== 0x3a) return undefined;
  const iv = data.subarray(0, 16);
  const body = data.subarray(17, data.length - 16);
  const tag = data.subarray(data.length - 16);
  // Old files salted with the IV's bytes; older ones with the IV read as a string.
  for (const salt of [iv, iv.toString()]) {
    try {
      const key = pbkdf2Sync(secret, salt, 10_000, 32, 'sha512');
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      // The next salt, or not this key.
    }
  }
  return undefined;
}
