import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { LatchkeyError } from '@latchkey/core';

/**
 * A key-encryption hook: wraps and unwraps the data key of each row with a key that a
 * key management service (AWS KMS, Google Cloud KMS, Vault transit...) keeps, so the
 * host's key never enters this process. A hook that throws a `LatchkeyError` has it
 * passed on as it is (throw `STORE_CORRUPT` for a wrapped key the service rejects as
 * damaged); any other error it throws is reported as `STORE_UNAVAILABLE`.
 *
 * @see {@link https://en.wikipedia.org/wiki/Key_encapsulation_mechanism} for envelope encryption.
 */
export interface KeyWrapper {
  /**
   * Names the key that `wrap()` uses; it is stored with every row, and a row is given
   * back to `unwrap()` only when its id is this one (or that of a `previousKeys` hook).
   * Not secret: a key ARN, a Vault key name with its version, and so on.
   */
  readonly keyId: string;
  /** Encrypts a fresh 32-byte data key; the result is stored in the row. */
  wrap(dataKey: Uint8Array): Promise<Uint8Array>;
  /** Decrypts what `wrap()` returned, given the key id stored with it, back to the 32-byte data key. */
  unwrap(wrapped: Uint8Array, keyId: string): Promise<Uint8Array>;
}

/**
 * The host's key-encryption key: 32 random bytes (a `Uint8Array` or `Buffer`, or their
 * base64 text, such as `openssl rand -base64 32` prints), or a {@link KeyWrapper} hook.
 */
export type EncryptionKey = Uint8Array | string | KeyWrapper;

/** A key that wraps data keys, as the store uses it. */
export interface WrappingKey {
  readonly keyId: string;
  wrap(dataKey: Buffer): Promise<Buffer>;
  unwrap(wrapped: Buffer): Promise<Buffer>;
}

/** What the store keeps of a value: its ciphertext, its wrapped data key, and the id of the key that wrapped it. */
export interface SealedValue {
  value: Buffer;
  dataKey: Buffer;
  keyId: string;
}

/** What a notification's tag vouches for besides the row: its version and the value it replaced. */
export interface RowNotice {
  /** The row's version once written. */
  version: string;
  /** The value (ciphertext) of the row it replaced; `null` when there was none. */
  previous: Buffer | null;
}

/** A sealed value with the tag that vouches for it in a notification (see {@link sealValue}). */
export interface NoticedValue extends SealedValue {
  /** HMAC-SHA256 under a key derived from the row's data key; present when a notice was given. */
  noticeTag?: Buffer | undefined;
}

/** A failure to open a row that says why, without any secret; the store turns it into `STORE_CORRUPT`. */
export class OpenFailure extends Error {}

const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const VALUE_AAD = 'latchkey-store-postgres/value/v1';
const DATA_KEY_AAD = 'latchkey-store-postgres/data-key/v1';
const NOTICE_INFO = 'latchkey-store-postgres/notice/v1';

function encrypt(key: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([Buffer.of(FORMAT), iv, cipher.getAuthTag(), body]);
}

/** Decrypts what {@link encrypt} made; `undefined` when the key, the AAD or the bytes do not match. */
function decrypt(key: Buffer, sealed: Buffer, aad: Buffer): Buffer | undefined {
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 1 + IV_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
    return Buffer.concat([
      decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return undefined;
  }
}

/** The additional data a value's ciphertext is bound to: the table (`schema.table`) and the key of its row. */
function valueAad(table: string, key: string): Buffer {
  return Buffer.from(`${VALUE_AAD}\0${table}\0${key}`, 'utf8');
}

/**
 * The tag that vouches for a row sent in a notification: an HMAC-SHA256, under a key of
 * its own derived from the row's data key (an HMAC of a fixed label, as HKDF-Expand makes
 * it), over table, key, version, key id, the row's bytes and a digest of the value it
 * replaced (`null`: none). Only a holder of the key-encryption key can make one, and a
 * waiter takes the row only as the successor of the row it saw itself, so a role that
 * can only `NOTIFY` can neither make up a row nor pass an older one off as the latest.
 */
function noticeTag(
  dataKey: Buffer,
  table: string,
  key: string,
  notice: RowNotice,
  row: SealedValue,
): Buffer {
  const previous =
    notice.previous === null ? 'none' : createHash('sha256').update(notice.previous).digest('hex');
  const macKey = createHmac('sha256', dataKey).update(`${NOTICE_INFO}\x01`).digest();
  try {
    return createHmac('sha256', macKey)
      .update(
        JSON.stringify([
          NOTICE_INFO,
          table,
          key,
          notice.version,
          previous,
          row.keyId,
          row.value.length,
          row.dataKey.length,
        ]),
      )
      .update(row.value)
      .update(row.dataKey)
      .digest();
  } finally {
    macKey.fill(0);
  }
}

/**
 * The id stored with rows whose data key a raw key-encryption key wrapped: a digest of
 * the key, so rows name their key without revealing it.
 */
export function rawKeyId(kek: Buffer): string {
  return `kek:${createHash('sha256').update('latchkey-store-postgres/key-id\0').update(kek).digest('hex').slice(0, 16)}`;
}

/** A {@link WrappingKey} on 32 raw bytes: AES-256-GCM, bound to the key's id. */
export function rawWrappingKey(kek: Buffer): WrappingKey {
  const keyId = rawKeyId(kek);
  const aad = Buffer.from(`${DATA_KEY_AAD}\0${keyId}`, 'utf8');
  return {
    keyId,
    wrap: async (dataKey) => encrypt(kek, dataKey, aad),
    async unwrap(wrapped) {
      const dataKey = decrypt(kek, wrapped, aad);
      if (dataKey === undefined || dataKey.length !== KEY_BYTES) {
        throw new OpenFailure('its data key cannot be unwrapped with the encryption key');
      }
      return dataKey;
    },
  };
}

/** A {@link WrappingKey} on the host's hook; its errors become `STORE_UNAVAILABLE` unless they are a `LatchkeyError`. */
export function hookWrappingKey(hook: KeyWrapper): WrappingKey {
  const keyId = hook.keyId;
  const failed = (step: string, error: unknown) =>
    error instanceof LatchkeyError
      ? error
      : new LatchkeyError(
          'STORE_UNAVAILABLE',
          `The encryption hook's ${step}() failed for key id ${JSON.stringify(keyId)}. No stored login was changed or removed. Check that the key service is reachable and that this process may use the key, then retry.`,
          { cause: error },
        );
  return {
    keyId,
    async wrap(dataKey) {
      let wrapped: unknown;
      try {
        wrapped = await hook.wrap(Uint8Array.from(dataKey));
      } catch (error) {
        throw failed('wrap', error);
      }
      if (!(wrapped instanceof Uint8Array) || wrapped.length === 0) {
        throw new LatchkeyError(
          'STORE_CONFIG',
          `The encryption hook's wrap() for key id ${JSON.stringify(keyId)} must resolve to a non-empty Uint8Array; nothing was written.`,
        );
      }
      return Buffer.from(wrapped);
    },
    async unwrap(wrapped) {
      let dataKey: unknown;
      try {
        dataKey = await hook.unwrap(Uint8Array.from(wrapped), keyId);
      } catch (error) {
        throw failed('unwrap', error);
      }
      if (!(dataKey instanceof Uint8Array) || dataKey.length !== KEY_BYTES) {
        throw new OpenFailure(
          `the encryption hook's unwrap() did not give back a ${KEY_BYTES}-byte data key`,
        );
      }
      return Buffer.from(dataKey);
    },
  };
}

/** The store's keys: the one that wraps new data keys, and those it may unwrap with, by id. */
export interface Keyring {
  readonly current: WrappingKey;
  readonly byId: ReadonlyMap<string, WrappingKey>;
}

/**
 * Encrypts `json` for the row of `key` in `table`: a fresh random data key encrypts it
 * (AES-256-GCM, bound to table and key), and the keyring's current key wraps the data key.
 * With `notice` (the version the row will have once written, and the value it replaces),
 * it also makes the tag that vouches for the row in a notification.
 */
export async function sealValue(
  keyring: Keyring,
  table: string,
  key: string,
  json: string,
  notice?: RowNotice,
): Promise<NoticedValue> {
  const dataKey = randomBytes(KEY_BYTES);
  try {
    const value = encrypt(dataKey, Buffer.from(json, 'utf8'), valueAad(table, key));
    const wrapped = await keyring.current.wrap(dataKey);
    const sealed: SealedValue = { value, dataKey: wrapped, keyId: keyring.current.keyId };
    if (notice === undefined) return sealed;
    return { ...sealed, noticeTag: noticeTag(dataKey, table, key, notice, sealed) };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Decrypts a row sealed by {@link sealValue} back to its JSON text. Throws
 * {@link OpenFailure} when the row's key id is unknown, its data key does not unwrap, or
 * its value does not decrypt for this table and key (a wrong key, a changed or moved row),
 * and, with `notice`, when its tag does not vouch for the row at that version as the
 * successor of that previous value.
 */
export async function openValue(
  keyring: Keyring,
  table: string,
  key: string,
  row: SealedValue,
  notice?: RowNotice & { tag: Buffer },
): Promise<string> {
  const wrappingKey = keyring.byId.get(row.keyId);
  if (wrappingKey === undefined) {
    throw new OpenFailure(
      `its data key was wrapped by key id ${JSON.stringify(row.keyId)}, which is neither the encryption key given nor one of previousKeys`,
    );
  }
  const dataKey = await wrappingKey.unwrap(row.dataKey);
  try {
    if (notice) {
      const expected = noticeTag(dataKey, table, key, notice, row);
      if (notice.tag.length !== expected.length || !timingSafeEqual(notice.tag, expected)) {
        throw new OpenFailure('the notification does not vouch for this row at its version');
      }
    }
    const plain = decrypt(dataKey, row.value, valueAad(table, key));
    if (plain === undefined) {
      throw new OpenFailure(
        'its value does not decrypt for this table and key (the row was changed, or copied from another key or table)',
      );
    }
    return plain.toString('utf8');
  } finally {
    dataKey.fill(0);
  }
}
