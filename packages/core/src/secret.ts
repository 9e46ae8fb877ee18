import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret string that redacts itself everywhere it could leak: `String()`,
 * template literals, `JSON.stringify`, and `console.log`/`util.inspect`. Read the
 * value only with {@link Secret.reveal}, at the point where it is sent.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    if (typeof value !== 'string') throw new TypeError('Secret value must be a string');
    this.#value = value;
    Object.freeze(this);
  }

  /** The secret value itself. Call it only where the value is sent or written. */
  reveal(): string {
    return this.#value;
  }

  /** Always `"[redacted]"`. */
  toString(): string {
    return REDACTED;
  }

  /** Always `"[redacted]"`. */
  toJSON(): string {
    return REDACTED;
  }

  /** Always `Secret([redacted])`. */
  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}

/** Wraps a string in a {@link Secret}; passes a `Secret` through unchanged. */
export function secret(value: string | Secret): Secret {
  return value instanceof Secret ? value : new Secret(value);
}

/** Replaces every occurrence of each secret's value in `text` with `[redacted]`. */
export function maskSecrets(text: string, secrets: Iterable<Secret | string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s === undefined) continue;
    const value = s instanceof Secret ? s.reveal() : s;
    // Very short values would mask unrelated text and are not worth protecting this way.
    if (value.length < 6) continue;
    out = out.split(value).join(REDACTED);
  }
  return out;
}
