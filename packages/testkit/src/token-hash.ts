import { createHash } from 'node:crypto';

/**
 * A short sha256 fingerprint of a secret value (16 hex digits), so fixtures can record
 * which tokens they saw and tests can compare them without ever holding or printing one.
 */
export function tokenHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}
