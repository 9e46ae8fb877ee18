import type { Credentials, Secret } from '@latchkey/core';

const MASK = '[masked]';

/** Hides known secret values (and their URL-encoded and base64 forms) in text for people. */
export interface Masker {
  add(values: Iterable<string>): void;
  mask(text: string): string;
}

export function createMasker(): Masker {
  const values = new Set<string>();
  return {
    add(list) {
      for (const value of list) {
        // Short values would mask ordinary words; tokens are long.
        if (value.length < 8) continue;
        values.add(value);
        values.add(encodeURIComponent(value));
        values.add(Buffer.from(value, 'utf8').toString('base64'));
      }
    },
    mask(text) {
      let out = text;
      // Longest first, so a value containing another is masked whole.
      for (const value of [...values].sort((a, b) => b.length - a.length)) {
        if (out.includes(value)) out = out.split(value).join(MASK);
      }
      return out;
    },
  };
}

/** Every secret value a login holds. */
export function credentialSecrets(credentials: Credentials): string[] {
  const secrets: (Secret | undefined)[] = [
    credentials.accessToken,
    credentials.refreshToken,
    credentials.idToken,
    credentials.dpopKey,
    ...Object.values(credentials.secrets),
    ...Object.values(credentials.linkedTokens ?? {}).map((t) => t.refreshToken),
  ];
  return secrets.filter((s): s is Secret => s !== undefined).map((s) => s.reveal());
}
