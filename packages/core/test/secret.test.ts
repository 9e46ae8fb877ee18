import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret } from '../src/index.js';
import { maskSecrets } from '../src/secret.js';

describe('Secret', () => {
  const canary = 'canary-secret-value-9f8e7d';
  const s = new Secret(canary);

  it('redacts itself in strings, JSON and inspection', () => {
    expect(String(s)).toBe('[redacted]');
    expect(`${s}`).toBe('[redacted]');
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}');
    expect(inspect({ s })).not.toContain(canary);
    expect(Object.keys(s)).toEqual([]);
  });

  it('reveals the value on request', () => {
    expect(s.reveal()).toBe(canary);
  });

  it('masks secret values in text', () => {
    expect(maskSecrets(`token=${canary}&x=${canary}`, [s])).toBe('token=[redacted]&x=[redacted]');
  });
});
