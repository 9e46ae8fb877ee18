// Shared by the provider-google tests: a provider for the fake, the unattended user, and
// canary checks for the fake's tokens (the global output check only knows the testkit's).
import { format, inspect } from 'node:util';
import type { AuthenticateOptions, AuthProvider, LatchkeyEvent, ServerEvent } from '@latchkey/core';
import { completeAuthorization } from '@latchkey/testkit';
import { afterAll, expect } from 'vitest';
import { type GoogleProviderOptions, googleProvider } from '../src/index.js';
import type { FakeGoogle } from './fixtures/fake-google.js';

/** A Google provider pointed at the fake, with its client and secret. */
export function fakeGoogleProvider(
  fake: FakeGoogle,
  options: Partial<GoogleProviderOptions> = {},
): AuthProvider {
  return googleProvider({
    clientId: fake.client.clientId,
    ...(options.tokenExchange === undefined ? { clientSecret: fake.client.clientSecret } : {}),
    scopes: ['drive.readonly'],
    endpoints: fake.endpoints,
    ...options,
  });
}

/** An `openUrl` that plays the user: it follows the authorization URL to the loopback callback. */
export function unattendedUser(): { openUrl: (url: string) => void; opened: URL[] } {
  const opened: URL[] = [];
  return {
    opened,
    openUrl(url) {
      opened.push(new URL(url));
      completeAuthorization(url).catch(() => {});
    },
  };
}

/** Options shared by the tests: a short timeout. */
export function options(extra: AuthenticateOptions): AuthenticateOptions {
  return { timeoutMs: 20_000, ...extra };
}

/**
 * Collects events and anything printable, and finds the fake's secrets in them: every
 * event and recorded value (errors with their causes and stacks) is searched.
 */
export function leakWatch() {
  const events: (LatchkeyEvent | ServerEvent)[] = [];
  const seen: string[] = [];
  return {
    events,
    onEvent: (event: LatchkeyEvent | ServerEvent) => {
      events.push(event);
    },
    record(value: unknown) {
      seen.push(
        typeof value === 'string' ? value : inspect(value, { depth: 10, showHidden: true }),
      );
      if (value instanceof Error) seen.push(String(value.stack), JSON.stringify(value));
    },
    leaks(secrets: Iterable<string>): number {
      const haystack = [...seen, JSON.stringify(events), inspect(events, { depth: 10 })].join('\n');
      return [...secrets].filter((s) => haystack.includes(s)).length;
    },
  };
}

/**
 * Fails the test file if any of `secrets()` (read after the tests) was written to the
 * console, stdout or stderr. Call once at the top of a test file.
 */
export function failOnSecretOutput(secrets: () => Iterable<string>): void {
  const captured: string[] = [];
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      captured.push(format(...args));
      original(...args);
    };
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(
        typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString(),
      );
      return original(chunk, ...rest);
    }) as typeof stream.write;
  }
  afterAll(() => {
    const output = captured.join('\n');
    const leaked = [...secrets()].filter((s) => output.includes(s)).length;
    expect(leaked, 'secrets of the fake Google appeared in the test output').toBe(0);
  });
}

export { childPids, packageBin as serverBin } from '@latchkey/testkit';
