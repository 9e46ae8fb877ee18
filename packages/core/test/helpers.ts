import { inspect } from 'node:util';
import {
  completeAuthorization,
  completeDeviceAuthorization,
  type TestAuthServer,
} from '@latchkey/testkit';
import { expect } from 'vitest';
import {
  type AuthenticateOptions,
  type AuthProvider,
  authenticate,
  defineProvider,
  type LatchkeyEvent,
  memoryStore,
  type OAuthStrategyDefinition,
  type Session,
  type SignInPage,
} from '../src/index.js';

/** A provider for the test authorization server's public client. */
export function testProvider(
  server: TestAuthServer,
  strategy: Partial<OAuthStrategyDefinition> = {},
  id = 'test-as',
): AuthProvider {
  return defineProvider({
    id,
    name: 'Test AS',
    strategy: {
      kind: 'oauth',
      issuer: server.issuer,
      clientId: server.clients.public.clientId,
      scopes: ['openid', 'email', 'read'],
      ...strategy,
    },
  });
}

/**
 * An `openUrl` that plays the user: it follows the authorization URL to the loopback
 * callback without waiting (the callback's page is only sent once the code has been
 * redeemed), and reports an HTTP error page it ends on, as a host watching its window
 * would. The outcomes are collected for assertions.
 */
export function unattendedUser(): {
  openUrl: (url: string, page?: SignInPage) => void;
  opened: string[];
  outcomes: Promise<Awaited<ReturnType<typeof completeAuthorization>>>[];
} {
  const opened: string[] = [];
  const outcomes: Promise<Awaited<ReturnType<typeof completeAuthorization>>>[] = [];
  return {
    opened,
    outcomes,
    openUrl(url, page) {
      opened.push(url);
      const outcome = completeAuthorization(url, page ? { page } : {});
      outcome.catch(() => {});
      outcomes.push(outcome);
    },
  };
}

/** An `openUrl` that fails the test if sign-in is attempted. */
export function noBrowser(): (url: string) => never {
  return () => {
    throw new Error('a browser was opened although stored credentials should have been used');
  };
}

/**
 * Collects every token value the authorization server hands out (through a wrapping
 * `fetch`), and everything that could leak one: events, errors, console output.
 */
export function canaryWatch() {
  const tokens = new Set<string>();
  const events: LatchkeyEvent[] = [];
  const seen: string[] = [];
  const wrappedFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('json')) {
      const body = (await response
        .clone()
        .json()
        .catch(() => undefined)) as Record<string, unknown> | undefined;
      for (const field of ['access_token', 'refresh_token', 'id_token', 'device_code']) {
        const value = body?.[field];
        if (typeof value === 'string') tokens.add(value);
      }
    }
    return response;
  };
  return {
    fetch: wrappedFetch,
    events,
    onEvent: (event: LatchkeyEvent) => events.push(event),
    tokens,
    /** Records anything for the final scan (deeply inspected, causes included). */
    record(value: unknown) {
      seen.push(
        typeof value === 'string' ? value : inspect(value, { depth: 10, showHidden: true }),
      );
      if (value instanceof Error) seen.push(JSON.stringify(value), String(value.stack));
    },
    /** Asserts that no token value appears in what was recorded or emitted. */
    leaks(): string[] {
      const haystack = [...seen, JSON.stringify(events), inspect(events, { depth: 10 })].join('\n');
      return [...tokens].filter((t) => haystack.includes(t));
    },
  };
}

/** Options shared by the tests: short timeout, the unattended user, the store. */
export function options(extra: AuthenticateOptions): AuthenticateOptions {
  return { timeoutMs: 20_000, ...extra };
}

/**
 * Signs in with the device flow (RFC 8628), the user approving the code at the test
 * server as soon as it is issued; resolves once the approval and the sign-in are done.
 */
export async function deviceSignIn(
  server: TestAuthServer,
  provider: AuthProvider,
  extra: AuthenticateOptions = {},
): Promise<Session> {
  let approval: Promise<unknown> | undefined;
  const session = await authenticate(
    provider,
    options({
      store: memoryStore(),
      timeoutMs: 40_000,
      ...extra,
      flow: 'device',
      onEvent: (event) => {
        extra.onEvent?.(event);
        if (event.type === 'device_code_issued') {
          approval = completeDeviceAuthorization(server, { userCode: event.userCode });
        }
      },
    }),
  );
  expect(await approval).toMatchObject({ approved: true });
  return session;
}
